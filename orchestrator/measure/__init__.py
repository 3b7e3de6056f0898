"""Step 3: time networks on a device. The request/result contract, the device registry and the
phones connected now, the timing loop, one session's path from model files to a result, and the
runners that execute a session on host, Android or iOS."""
