"""The two precisions a program may run, as a backend reads them from the program itself
(`orchestrator/export/backends/<family>.py`: `program_precision`): `bench measure` refuses to time
a program on a device of the other precision, since an int8 device's figures priced against a
float32 program (or the reverse) compare two different programs without saying so."""

INT8 = "int8"
FLOAT32 = "float32"
