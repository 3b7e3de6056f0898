"""The iOS runner (`runner`), its `bench doctor` walk (`diagnosis`), the phones `bench devices` lists
(`devices`), what a run directory sends and accepts back (`rundir`), the pymobiledevice3 calls they
make (`services`), the run log (`runlog`) and the sentence each failure becomes (`messages`)."""
