"""What the tests share besides fixtures: real kernels, real servers in-process and in their
own process, server settings for a machine under test, the machines' facts, and the store
writer the crash tests kill. The loopback fakes of the cloud APIs are in ``tests.fakes``."""
