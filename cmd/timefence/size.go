package main

import (
	"fmt"
	"strconv"
	"strings"
)

// sizeFlag is a flag value of bytes, written as a plain number or with a
// binary unit: 512MiB, 2GiB, 64KiB.
type sizeFlag int64

// String writes the size in the largest binary unit that divides it.
func (b *sizeFlag) String() string {
	n := int64(*b)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

func (b *sizeFlag) Type() string { return "size" }

func (b *sizeFlag) Set(s string) error {
	units := []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}
	num, mult := strings.TrimSpace(s), int64(1)
	for _, u := range units {
		if strings.HasSuffix(num, u.suffix) {
			num, mult = strings.TrimSpace(strings.TrimSuffix(num, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return fmt.Errorf("%q is not a size: write bytes as a number, optionally with KiB, MiB, GiB or TiB", s)
	}
	*b = sizeFlag(n * mult)
	return nil
}
