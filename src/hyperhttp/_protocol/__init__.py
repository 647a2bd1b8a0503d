"""Sans-I/O HTTP protocol code shared by the client and the test server (no sockets here)."""
