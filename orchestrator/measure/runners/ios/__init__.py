"""The iOS runner (`runner`), the pymobiledevice3 calls it makes (`services`), its run log
(`runlog`) and the sentence each failure becomes (`messages`)."""
