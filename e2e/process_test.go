package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// repoRoot is the module root, seen from this package's folder.
const repoRoot = ".."

// buildMailtriage builds the mailtriage binary into a temporary folder and
// returns its path.
func buildMailtriage(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "mailtriage")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/mailtriage")
	cmd.Dir = repoRoot
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("building mailtriage: %v\n%s", err, out)
	}
	return bin
}

// processRun is one mailtriage process started by a test.
type processRun struct {
	name string
	cmd  *exec.Cmd
	logs *bytes.Buffer // stderr and stdout
	done chan error    // receives the result of Wait
}

// startProcess starts bin with args. Its output is logged when the test
// fails, and the process is killed at cleanup if it still runs.
func startProcess(t testing.TB, name, bin string, args ...string) *processRun {
	t.Helper()
	p := &processRun{name: name, logs: &bytes.Buffer{}, done: make(chan error, 1)}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout = p.logs
	p.cmd.Stderr = p.logs
	p.cmd.Env = os.Environ()
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() { p.done <- p.cmd.Wait() }()

	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("output of %s:\n%s", name, p.logs.String())
		}
	})
	return p
}

// kill sends SIGKILL, as a crash, and waits for the process to exit.
func (p *processRun) kill(t testing.TB) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("killing %s: %v", p.name, err)
	}
	<-p.done
	p.done <- nil // for the cleanup
}

// stopTimeout bounds a clean exit after SIGTERM. A processor started
// right after another was killed can be inside a group join that waits
// for the killed member, up to the rebalance timeout (60 s in franz-go).
const stopTimeout = 90 * time.Second

// stop sends SIGTERM and waits up to stopTimeout for a clean exit. When the
// process is still running then, it sends SIGQUIT, so that the Go runtime
// prints every goroutine's stack into the output that the cleanup shows.
func (p *processRun) stop(t testing.TB) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("stopping %s: %v", p.name, err)
	}
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			t.Errorf("%s exited with %v after SIGTERM, expected status 0", p.name, err)
		}
	case <-time.After(stopTimeout):
		_ = p.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case err := <-p.done:
			p.done <- err
		case <-time.After(10 * time.Second):
		}
		t.Fatalf("%s did not exit within %v of SIGTERM; its goroutine stacks (SIGQUIT) are in its output below", p.name, stopTimeout)
	}
}

// exited reports whether the process ended, with its error.
func (p *processRun) exited() (bool, error) {
	select {
	case err := <-p.done:
		p.done <- err
		return true, err
	default:
		return false, nil
	}
}

// groupCommitted returns the offsets that group committed for topic,
// summed over partitions, and whether every partition reached end.
func groupCommitted(ctx context.Context, adm *kadm.Client, group, topic string, end kadm.ListedOffsets) (sum int64, caughtUp bool, err error) {
	resp, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return 0, false, err
	}
	caughtUp = true
	end.Each(func(o kadm.ListedOffset) {
		if o.Topic != topic {
			return
		}
		committed, ok := resp.Lookup(topic, o.Partition)
		at := int64(0)
		if ok && committed.Err == nil {
			at = committed.At
		}
		sum += at
		if at < o.Offset {
			caughtUp = false
		}
	})
	return sum, caughtUp, nil
}
