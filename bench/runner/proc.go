package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// stopGrace is how long a process is given to end after SIGTERM before its
// whole process group is killed.
const stopGrace = 5 * time.Second

// command prepares a child in a process group of its own, so that a timeout or
// a stop kills it and everything it started (curl under xargs, node under
// newman), and that dies with the runner (Pdeathsig) if the runner is killed.
func command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = stopGrace
	return cmd
}

// run is one bounded command.
type run struct {
	name    string
	args    []string
	env     []string      // added to the runner's environment
	stdin   string        // file fed on standard input; "" = none
	stdout  string        // file for standard output; "" = discarded
	stderr  string        // file for standard error; "" = discarded
	timeout time.Duration // the whole command's limit
	timeRSS string        // if set, run under `/usr/bin/time -v -o timeRSS` (that binary)
}

// ran is how a command went.
type ran struct {
	wall  time.Duration
	exit  int   // exit status; -1 when killed or not started
	rssKB int64 // peak RSS in KiB: from /usr/bin/time -v when asked, else from wait4's rusage
	err   error // could not start, timed out, or interrupted; a non-zero exit is not an error
}

// exec runs r and waits for it, within r.timeout.
func (r run) exec(ctx context.Context, timeFile string) ran {
	ctx, cancel := context.WithTimeoutCause(ctx, r.timeout, fmt.Errorf("%s: no end within %v", r.name, r.timeout))
	defer cancel()
	name, args := r.name, r.args
	if r.timeRSS != "" {
		name, args = r.timeRSS, append([]string{"-v", "-o", timeFile, r.name}, r.args...)
	}
	cmd := command(ctx, name, args...)
	cmd.Env = append(os.Environ(), r.env...)
	var closers []io.Closer
	defer func() {
		for _, c := range closers {
			c.Close()
		}
	}()
	open := func(path string, create bool) (*os.File, error) {
		if create {
			return os.Create(path)
		}
		return os.Open(path)
	}
	if r.stdin != "" {
		f, err := open(r.stdin, false)
		if err != nil {
			return ran{exit: -1, err: err}
		}
		closers = append(closers, f)
		cmd.Stdin = f
	}
	if r.stdout != "" {
		f, err := open(r.stdout, true)
		if err != nil {
			return ran{exit: -1, err: err}
		}
		closers = append(closers, f)
		cmd.Stdout = f
	}
	if r.stderr != "" {
		f, err := open(r.stderr, true)
		if err != nil {
			return ran{exit: -1, err: err}
		}
		closers = append(closers, f)
		cmd.Stderr = f
	}
	start := time.Now()
	err := cmd.Run()
	out := ran{wall: time.Since(start), exit: -1}
	if cmd.ProcessState != nil {
		out.exit = cmd.ProcessState.ExitCode()
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			out.rssKB = ru.Maxrss
		}
	}
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil:
		out.err = context.Cause(ctx)
	case err != nil && !errors.As(err, &exitErr):
		out.err = fmt.Errorf("%s: %w", r.name, err)
	}
	if r.timeRSS != "" && out.err == nil {
		rss, wall, exit, terr := parseTimeV(timeFile)
		if terr != nil {
			out.err = terr
		} else {
			out.rssKB, out.wall, out.exit = rss, wall, exit
		}
	}
	return out
}

var (
	timeRSS  = regexp.MustCompile(`Maximum resident set size \(kbytes\): (\d+)`)
	timeWall = regexp.MustCompile(`Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([0-9:.]+)`)
	timeExit = regexp.MustCompile(`Exit status: (\d+)`)
)

// parseTimeV reads GNU time's -v report: peak RSS in KiB, wall time, exit status.
func parseTimeV(path string) (rssKB int64, wall time.Duration, exit int, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, 0, err
	}
	rss, w, e := timeRSS.FindSubmatch(b), timeWall.FindSubmatch(b), timeExit.FindSubmatch(b)
	if rss == nil || w == nil || e == nil {
		return 0, 0, 0, fmt.Errorf("%s: not a GNU time -v report", path)
	}
	rssKB, _ = strconv.ParseInt(string(rss[1]), 10, 64)
	exit, _ = strconv.Atoi(string(e[1]))
	// h:mm:ss or m:ss.cc
	var secs float64
	for _, part := range strings.Split(string(w[1]), ":") {
		v, _ := strconv.ParseFloat(part, 64)
		secs = secs*60 + v
	}
	return rssKB, time.Duration(secs * float64(time.Second)), exit, nil
}

// sim is one `simreset mock-api` process on a loopback port of its choosing.
type sim struct {
	cmd  *exec.Cmd
	url  string // base URL, ".../api/v1"
	host string // "http://127.0.0.1:PORT"
	http *http.Client
	done chan struct{} // closed when the process has ended
}

var listening = regexp.MustCompile(`msg="mock-api listening" url=(\S+)`)

// startSim starts `simreset mock-api --listen 127.0.0.1:0 extra...`, logging to
// logPath, and returns once it serves. The caller must call stop.
func startSim(ctx context.Context, simreset, logPath string, extra ...string) (*sim, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	// Not CommandContext: the simulator outlives single steps; stop ends it.
	cmd := command(context.Background(), simreset, append([]string{"mock-api", "--listen", "127.0.0.1:0"}, extra...)...)
	cmd.Env = append(os.Environ(), "MONOZ_API_KEY=") // any key is accepted
	pr, err := cmd.StderrPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting the simulator: %w", err)
	}
	s := &sim{
		cmd:  cmd,
		http: &http.Client{Transport: &http.Transport{}, Timeout: 30 * time.Second}, // no proxy: loopback
		done: make(chan struct{}),
	}
	urls := make(chan string, 1)
	go func() {
		defer logf.Close()
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logf, line)
			if m := listening.FindStringSubmatch(line); m != nil {
				select {
				case urls <- m[1]:
				default:
				}
			}
		}
		cmd.Wait()
		close(s.done)
	}()
	select {
	case s.url = <-urls:
		s.host = strings.TrimSuffix(s.url, "/api/v1")
		return s, nil
	case <-s.done:
		return nil, fmt.Errorf("the simulator ended before it served: see %s", logPath)
	case <-time.After(15 * time.Second):
	case <-ctx.Done():
	}
	s.stop()
	return nil, fmt.Errorf("the simulator did not start serving: see %s", logPath)
}

// stop ends the simulator: SIGTERM, then SIGKILL to its group after stopGrace.
func (s *sim) stop() {
	syscall.Kill(s.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(stopGrace):
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
}

// stats is the simulator's GET /_sim/stats answer (batch/mockapi.Stats).
type stats struct {
	NowNS    int64          `json:"now_ns"`
	Requests int            `json:"requests"`
	FirstNS  int64          `json:"first_ns"`
	LastNS   int64          `json:"last_ns"`
	Rate     float64        `json:"rate"`
	Max1s    int            `json:"max_1s"`
	Total    int            `json:"total"`
	Status   map[string]int `json:"status"`
}

func (s *sim) stats(ctx context.Context, sinceNS int64) (stats, error) {
	var st stats
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.host+"/_sim/stats?since_ns="+strconv.FormatInt(sinceNS, 10), nil)
	if err != nil {
		return st, err
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return st, fmt.Errorf("simulator stats: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("simulator stats: %s (is this simreset's own simulator, with /_sim/stats?)", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return st, fmt.Errorf("simulator stats: %w", err)
	}
	return st, nil
}

// phase is what the simulator saw during one step.
type phase struct {
	stats           // the arrival fields cover the step only
	ok        int   // 2xx answers during the step
	notOK     int   // other answers (and dropped connections) during the step
	ran             // the command itself
	statusErr error // the stats could not be read
}

// measure runs one step against s and returns what the server counted during it.
func (s *sim) measure(ctx context.Context, step func() ran) phase {
	before, err := s.stats(ctx, 0)
	if err != nil {
		return phase{ran: ran{exit: -1}, statusErr: err}
	}
	p := phase{ran: step()}
	after, err := s.stats(ctx, before.NowNS)
	if err != nil {
		p.statusErr = err
		return p
	}
	p.stats = after
	for code, n := range after.Status {
		d := n - before.Status[code]
		if strings.HasPrefix(code, "2") && len(code) == 3 {
			p.ok += d
		} else {
			p.notOK += d
		}
	}
	return p
}
