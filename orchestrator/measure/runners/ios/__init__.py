"""The iOS runner, in the phone runners' template (`runners/phone.py`): `settings`, `phone_state`,
`connection` (and the listing of iPhones), `diagnosis` (`bench doctor`'s steps), `runner` (the
session) and `platform` (its descriptor); with what a run directory sends and accepts back
(`rundir`), every pymobiledevice3 call (`services`), the run log (`runlog`) and the sentence each
failure becomes (`messages`)."""
