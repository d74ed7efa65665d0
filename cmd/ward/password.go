package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// readPassword returns flag, or, when flag is "-", the first line of in, so
// a password need not appear in the process list or shell history.
func readPassword(flag string, in io.Reader) (string, error) {
	if flag != "-" {
		if flag == "" {
			return "", errors.New("the password must not be empty")
		}
		return flag, nil
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from standard input: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("no password on standard input")
	}
	return pw, nil
}
