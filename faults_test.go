package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/simreset/simreset/batch/mockapi"
)

// TestMain lets the test binary stand in for the simreset binary: with
// SIMRESET_BE_MAIN=1 it runs main, so a test can SIGKILL a real process.
func TestMain(m *testing.M) {
	if os.Getenv("SIMRESET_BE_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

func TestFaultyAPIStillResetsEverySIMOnce(t *testing.T) {
	path, iccids := fleet(t, 300)
	srv := newServer(t, mockapi.Config{
		Fail500: 0.10, Fail429: 0.05, RetryAfter: "1", FailReset: 0.02, FailHang: 0.01, FailHTML502: 0.01,
		HangFor: 5 * time.Second, Seed: 7,
	})
	out := filepath.Join(t.TempDir(), "r.csv")
	args := []string{"reset", "--org", "org-1", "--base-url", srv.URL(), "--out", out, "--progress", "off",
		"--rate", "200", "--burst", "5", "--workers", "16", "--retries", "8",
		"--timeout", "300ms", "--max-wait", "200ms", path}
	res := runCLI(t, testKey, nil, args...)
	if res.code != exitOK {
		t.Fatalf("exit %d, want 0; stderr:\n%s", res.code, res.stderr)
	}
	_, rows := resultLines(t, out)
	resets := map[string]int{}
	for _, r := range rows {
		if r[2] == "reset" {
			resets[r[1]]++
		}
	}
	for _, iccid := range iccids {
		if resets[iccid] != 1 {
			t.Errorf("%s: %d reset lines, want 1", iccid, resets[iccid])
		}
		if n := srv.Successes(iccid); n != 1 {
			t.Errorf("%s answered 200 %d times, want once", iccid, n)
		}
	}
	if got, limit := srv.MaxInWindow(time.Second), 200+5; got > limit {
		t.Errorf("server saw %d requests in one second, limit %d", got, limit)
	}
	if srv.Total() <= len(iccids) {
		t.Errorf("server saw %d requests for %d SIMs: the faults were not injected", srv.Total(), len(iccids))
	}
}

func TestSIGINTThenResumeFinishesTheJob(t *testing.T) {
	path, iccids := fleet(t, 200)
	srv := newServer(t, mockapi.Config{Latency: 10 * time.Millisecond})
	out := filepath.Join(t.TempDir(), "r.csv")
	args := []string{"reset", "--org", "org-1", "--base-url", srv.URL(), "--out", out, "--progress", "off",
		"--rate", "100", "--workers", "4", path}

	signals := make(chan os.Signal, 2)
	done := make(chan cliResult)
	go func() { done <- runCLI(t, testKey, signals, args...) }()
	waitFor(t, "30 SIMs reset", func() bool { return srv.Total() >= 30 })
	signals <- os.Interrupt
	res := <-done
	if res.code != exitInterrupted {
		t.Fatalf("exit %d, want %d; stderr:\n%s", res.code, exitInterrupted, res.stderr)
	}
	_, rows := resultLines(t, out)
	if len(rows) != 200 {
		t.Fatalf("%d lines after SIGINT, want one per record (200)", len(rows))
	}
	firstRun := map[string]string{}
	for _, r := range rows {
		firstRun[r[1]] = r[2]
		if r[2] != "reset" && r[2] != "not_attempted" {
			t.Errorf("after SIGINT: %q", r)
		}
	}
	if !strings.Contains(res.stderr, "interrupted") {
		t.Errorf("the summary does not say the run was interrupted:\n%s", res.stderr)
	}

	res = runCLI(t, testKey, nil, append([]string{"reset", "--resume"}, args[1:]...)...)
	if res.code != exitOK {
		t.Fatalf("resume: exit %d; stderr:\n%s", res.code, res.stderr)
	}
	latest := latestOutcomes(t, out)
	for _, iccid := range iccids {
		if latest[iccid] != "reset" && latest[iccid] != "skipped" {
			t.Errorf("%s ends %q", iccid, latest[iccid])
		}
		if n := srv.Calls(iccid); n != 1 {
			t.Errorf("%s called %d times over both runs, want 1 (first run: %s)", iccid, n, firstRun[iccid])
		}
	}
}

func TestSIGKILLThenResumeLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	path, iccids := fleet(t, 300)
	srv := newServer(t, mockapi.Config{Latency: 5 * time.Millisecond})
	out := filepath.Join(t.TempDir(), "r.csv")
	args := []string{"reset", "--org", "org-1", "--base-url", srv.URL(), "--out", out, "--progress", "off",
		"--rate", "300", "--workers", "8", path}

	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "SIMRESET_BE_MAIN=1", "MONOZ_API_KEY="+testKey)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "100 requests", func() bool { return srv.Total() >= 100 })
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	beforeKill := latestOutcomes(t, out) // the file as the kill left it, perhaps cut mid-line

	res := runCLI(t, testKey, nil, append([]string{"reset", "--resume"}, args[1:]...)...)
	if res.code != exitOK {
		t.Fatalf("resume: exit %d; stderr:\n%s\nkilled run's stderr:\n%s", res.code, res.stderr, stderr.String())
	}
	latest := latestOutcomes(t, out)
	twice := 0
	for _, iccid := range iccids {
		if latest[iccid] != "reset" && latest[iccid] != "skipped" {
			t.Errorf("%s ends %q", iccid, latest[iccid])
		}
		switch n := srv.Calls(iccid); {
		case n == 2 && beforeKill[iccid] == "reset":
			t.Errorf("%s was written reset before the kill, yet called again", iccid)
		case n == 2:
			twice++
		case n != 1:
			t.Errorf("%s called %d times", iccid, n)
		}
	}
	// Only the SIMs in flight at the kill (at most --workers) and those whose line
	// was not flushed yet may be called twice.
	if twice > 8 {
		t.Errorf("%d SIMs called twice, want at most the 8 in flight", twice)
	}
}

func TestSecondRunOnTheSameFileIsRefused(t *testing.T) {
	path, _ := fleet(t, 100)
	srv := newServer(t, mockapi.Config{Latency: 20 * time.Millisecond})
	out := filepath.Join(t.TempDir(), "r.csv")
	args := []string{"reset", "--org", "org-1", "--base-url", srv.URL(), "--out", out, "--progress", "off",
		"--rate", "0", "--workers", "2", path}
	signals := make(chan os.Signal, 2)
	done := make(chan cliResult)
	go func() { done <- runCLI(t, testKey, signals, args...) }()
	waitFor(t, "the first run to start", func() bool { return srv.Total() >= 5 })

	second := runCLI(t, testKey, nil, append([]string{"reset", "--force"}, args[1:]...)...)
	if second.code != exitUsage || !strings.Contains(second.stderr, "lock") {
		t.Errorf("second run: exit %d, stderr %q; want exit 2 naming the lock", second.code, second.stderr)
	}
	first := <-done
	if first.code != exitOK {
		t.Errorf("first run: exit %d; stderr:\n%s", first.code, first.stderr)
	}
	if _, rows := resultLines(t, out); len(rows) != 100 {
		t.Errorf("the second run touched the first one's file: %d lines, want 100", len(rows))
	}
}

func TestDeadlineAndSIGTERM(t *testing.T) {
	path, _ := fleet(t, 200)
	srv := newServer(t, mockapi.Config{Latency: 10 * time.Millisecond})
	out := filepath.Join(t.TempDir(), "r.csv")
	args := []string{"reset", "--org", "org-1", "--base-url", srv.URL(), "--out", out, "--progress", "off",
		"--rate", "50", "--workers", "2", path}

	res := runCLI(t, testKey, nil, append([]string{"reset", "--deadline", "300ms"}, args[1:]...)...)
	if res.code != exitDeadline {
		t.Errorf("--deadline: exit %d, want %d", res.code, exitDeadline)
	}
	if _, rows := resultLines(t, out); len(rows) != 200 {
		t.Errorf("--deadline: %d lines, want 200", len(rows))
	}

	signals := make(chan os.Signal, 2)
	done := make(chan cliResult)
	go func() { done <- runCLI(t, testKey, signals, append([]string{"reset", "--force"}, args[1:]...)...) }()
	waitFor(t, "a few SIMs", func() bool { return srv.Total() >= 30 })
	signals <- syscall.SIGTERM
	if res := <-done; res.code != exitTerminated {
		t.Errorf("SIGTERM: exit %d, want %d", res.code, exitTerminated)
	}
}

// latestOutcomes reads a result file, tolerating a last line cut by a kill, and
// returns each ICCID's latest outcome.
func latestOutcomes(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	latest := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ",")
		if len(fields) < 8 || fields[0] == "row" {
			continue // header, or the line the kill cut
		}
		latest[fields[1]] = fields[2]
	}
	return latest
}
