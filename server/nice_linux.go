package server

import "syscall"

// setThreadNice sets the nice value of the calling thread: on Linux,
// priorities are per thread.
func setThreadNice(n int) error {
	return syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), n)
}
