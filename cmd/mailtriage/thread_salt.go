package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
)

// envThreadSalt holds the thread index's address salt when
// --thread-salt-file is not given. The salt has no flag of its own, so
// that it never shows in the process list.
const envThreadSalt = "MAILTRIAGE_THREAD_SALT"

// addThreadSaltFlag registers --thread-salt-file on fs, writing into file.
func addThreadSaltFlag(fs *flag.FlagSet, file *string) {
	fs.StringVar(file, "thread-salt-file", "",
		"`file` holding the secret salt of the participant digests in the thread index (default $"+envThreadSalt+"); keep it stable, because a new salt makes every ticket's participants unknown")
}

// threadSalt returns the address salt of the thread index: the content of
// file without its trailing line break, or $MAILTRIAGE_THREAD_SALT when
// file is empty. It returns "" when neither is set, which leaves the
// digests unsalted. Its errors never contain the salt.
func threadSalt(file string) (string, error) {
	if file == "" {
		return os.Getenv(envThreadSalt), nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("reading --thread-salt-file: %w", err)
	}
	salt := strings.TrimRight(string(data), "\r\n")
	if salt == "" {
		return "", errors.New("--thread-salt-file " + file + " is empty: write the salt into it, or leave the flag out for unsalted digests")
	}
	return salt, nil
}
