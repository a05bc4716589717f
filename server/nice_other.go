//go:build !linux

package server

import "errors"

func setThreadNice(int) error {
	return errors.New("thread priorities are set on Linux only")
}
