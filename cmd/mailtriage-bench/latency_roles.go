package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// role is one `mailtriage` subprocess of a latency run.
type role struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	exited  chan error
}

// startRole runs binary with args, its stderr and stdout in
// dir/NAME.log, and env added to this process's environment.
func startRole(name, binary, dir string, env []string, args ...string) (*role, error) {
	logPath := filepath.Join(dir, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("creating the log of %s: %w", name, err)
	}
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting %s %s: %w", binary, name, err)
	}
	r := &role{name: name, cmd: cmd, logPath: logPath, exited: make(chan error, 1)}
	go func() {
		r.exited <- cmd.Wait()
		logFile.Close()
	}()
	return r, nil
}

// running returns an error when the role has exited.
func (r *role) running() error {
	select {
	case err := <-r.exited:
		r.exited <- err
		return fmt.Errorf("%s exited early (%v); its log follows:\n%s", r.name, err, tail(r.logPath, 20))
	default:
		return nil
	}
}

// peakRSSMiB returns VmHWM of the role's process in MiB.
func (r *role) peakRSSMiB() (float64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", r.cmd.Process.Pid))
	if err != nil {
		return 0, fmt.Errorf("reading the status of %s: %w", r.name, err)
	}
	defer f.Close()
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		value, ok := strings.CutPrefix(scanner.Text(), "VmHWM:")
		if !ok {
			continue
		}
		kib, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(value), "kB")), 64)
		if err != nil {
			return 0, fmt.Errorf("invalid VmHWM line %q of %s", scanner.Text(), r.name)
		}
		return kib / 1024, nil
	}
	return 0, fmt.Errorf("no VmHWM line in /proc/%d/status of %s", r.cmd.Process.Pid, r.name)
}

// stop sends SIGTERM and waits up to grace before it kills the process.
func (r *role) stop(grace time.Duration) error {
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stopping %s: %w", r.name, err)
	}
	select {
	case <-r.exited:
		return nil
	case <-time.After(grace):
		_ = r.cmd.Process.Kill()
		<-r.exited
		return fmt.Errorf("%s did not stop within %s of SIGTERM and was killed", r.name, grace)
	}
}

// tail returns the last n lines of the file at path.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "(log unreadable: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
