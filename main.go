// Command simreset resets every SIM of a fleet export through the monoz API.
//
// main only wires: flags and environment (kong) into options structs, signals into
// contexts, and errors into exit statuses. The work is in package batch (read,
// validate, call) and package report (write, summarise).
package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kong"

	"github.com/simreset/simreset/batch"
	"github.com/simreset/simreset/batch/mockapi"
	"github.com/simreset/simreset/report"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Exit statuses of SPEC.md section 5.
const (
	exitOK          = 0
	exitSomeFailed  = 1
	exitUsage       = 2
	exitBreaker     = 3
	exitDeadline    = 4
	exitInterrupted = 130
	exitTerminated  = 143
)

// Causes of a run stopped from outside; they select the exit status.
var (
	errInterrupted = errors.New("interrupted (SIGINT)")
	errTerminated  = errors.New("terminated (SIGTERM)")
	errDeadline    = errors.New("--deadline reached")
	// errSomeFailed means the run went to its end but not every SIM was reset.
	errSomeFailed = errors.New("some SIMs were not reset")
	// errUsage wraps a command line kong could not parse.
	errUsage = errors.New("usage")
)

// cli is the command line; kong fills it from flags and environment.
type cli struct {
	Version kong.VersionFlag `help:"Print the version and exit."`

	Reset   resetCmd   `cmd:"" help:"Reset every SIM listed in a fleet export (CSV with an ICCID column)."`
	Demo    demoCmd    `cmd:"" help:"Run the reset job on testdata/fleet.csv against the built-in API simulator on loopback."`
	MockAPI mockAPICmd `cmd:"" name:"mock-api" help:"Serve the API simulator on loopback, for staging and benchmarks."`
}

// env is what the commands get from the process: streams, signals, environment.
type env struct {
	stdin   io.Reader
	stdout  io.Writer
	stderr  io.Writer
	signals <-chan os.Signal
	getenv  func(string) string
}

func main() {
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	os.Exit(run(os.Args[1:], env{
		stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr,
		signals: signals, getenv: os.Getenv,
	}))
}

// run parses args, runs the command and returns the exit status.
func run(args []string, e env) int {
	if len(args) > 0 && args[0] == "help" { // `simreset help [command]` reads as --help
		args = append(args[1:], "--help")
	}
	exited := -1
	var c cli
	parser, err := kong.New(&c,
		kong.Name("simreset"),
		kong.Description("Reset the network connection of every SIM in a fleet export through the monoz API."),
		kong.UsageOnError(),
		kong.Writers(e.stdout, e.stderr),
		kong.Exit(func(code int) { exited = code }),
		kong.Vars{
			"version":         versionString(),
			"default_base":    batch.DefaultBaseURL,
			"default_rate":    fmt.Sprint(batch.DefaultRate),
			"default_burst":   fmt.Sprint(batch.DefaultBurst),
			"default_workers": fmt.Sprint(batch.DefaultWorkers),
			"default_retries": fmt.Sprint(batch.DefaultRetries),
			"default_timeout": batch.DefaultTimeout.String(),
			"default_maxwait": batch.DefaultMaxWait.String(),
			"default_maxfail": fmt.Sprint(batch.DefaultMaxConsecutiveFailures),
			"demo_unknown":    demoUnknownPrefix,
		},
		kong.Bind(&e),
	)
	if err != nil {
		fmt.Fprintln(e.stderr, "simreset:", err)
		return exitUsage
	}
	kctx, err := parser.Parse(args)
	if exited >= 0 { // --help or --version
		return exited
	}
	if err != nil {
		fmt.Fprintln(e.stderr, "simreset:", err)
		fmt.Fprintln(e.stderr, "Run 'simreset --help' for usage.")
		return exitUsage
	}
	err = kctx.Run()
	// The summary already says why a run that went to its end or was stopped
	// ended; every other error is said here, once.
	if err != nil && !errors.Is(err, errSomeFailed) && !errors.Is(err, errInterrupted) && !errors.Is(err, errTerminated) {
		fmt.Fprintln(e.stderr, "simreset:", err)
	}
	return exitCode(err)
}

// versionString is the version set at build time, else what the Go toolchain
// recorded: the module version, or the commit the binary was built from.
func versionString() string {
	info, ok := debug.ReadBuildInfo()
	if version != "dev" || !ok {
		return version
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "", ""
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if len(rev) >= 12 {
		return "dev-" + rev[:12] + dirty
	}
	return version
}

// exitCode maps an error to the exit status of SPEC.md section 5.
func exitCode(err error) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errInterrupted):
		return exitInterrupted
	case errors.Is(err, errTerminated):
		return exitTerminated
	case errors.Is(err, errDeadline):
		return exitDeadline
	case errors.Is(err, batch.ErrAuthBreaker), errors.Is(err, batch.ErrOutageBreaker):
		return exitBreaker
	case errors.Is(err, errUsage), errors.Is(err, batch.ErrConfig), errors.Is(err, batch.ErrUnusableInput),
		errors.Is(err, report.ErrOutputExists), errors.Is(err, report.ErrLocked):
		return exitUsage
	default:
		return exitSomeFailed
	}
}

// signalContexts turns signals into the two stops of a run: the first SIGINT or
// SIGTERM cancels stop (start no new SIM), the second cancels ctx (cancel those in
// flight). The cause says which signal came first. Call the returned function to
// stop watching.
func signalContexts(parent context.Context, signals <-chan os.Signal) (ctx, stop context.Context, done func()) {
	ctx, cancel := context.WithCancelCause(parent)
	stop, stopNow := context.WithCancelCause(ctx)
	quit := make(chan struct{})
	go func() {
		first := true
		for {
			select {
			case <-quit:
				return
			case s := <-signals:
				cause := errInterrupted
				if s == syscall.SIGTERM {
					cause = errTerminated
				}
				if first {
					first = false
					stopNow(cause)
					continue
				}
				cancel(cause)
			}
		}
	}()
	return ctx, stop, func() {
		close(quit)
		stopNow(nil)
		cancel(nil)
	}
}

// resetCmd is `simreset reset`. Field tags are the command line contract of
// SPEC.md section 3; defaults come from package batch.
type resetCmd struct {
	File string `arg:"" help:"Fleet export: a CSV file with an ICCID column, or - for standard input."`

	Org        string `help:"Organisation id (path-escaped into the URL)." env:"MONOZ_ORG_ID"`
	APIKeyFile string `name:"api-key-file" help:"Read the API key from this file instead of MONOZ_API_KEY." placeholder:"PATH"`
	BaseURL    string `name:"base-url" help:"API base URL; plain http only to loopback." env:"MONOZ_BASE_URL" default:"${default_base}"`
	Out        string `help:"Result CSV (default: FILE.results.csv; - for standard output)." placeholder:"PATH"`

	Rate    float64       `help:"Requests per second, every attempt counted; 0 = no limit." default:"${default_rate}"`
	Burst   int           `help:"Rate limiter burst." default:"${default_burst}"`
	Workers int           `help:"Requests in flight at most." default:"${default_workers}"`
	Retries int           `help:"Retries after the first attempt." default:"${default_retries}"`
	Timeout time.Duration `help:"One attempt's time limit." default:"${default_timeout}"`
	MaxWait time.Duration `name:"max-wait" help:"The longest Retry-After or backoff honoured." default:"${default_maxwait}"`

	Column string `help:"The ICCID column, by header name or 1-based position (default: found by name)." placeholder:"NAME|N"`
	Strict bool   `help:"A failed Luhn check makes the row invalid (default: a warning)."`

	Resume   bool          `help:"Append to --out, skipping SIMs it already shows as reset."`
	Force    bool          `help:"Overwrite an existing --out."`
	DryRun   bool          `name:"dry-run" help:"Read and validate only: list what would be reset; no API call."`
	Deadline time.Duration `help:"Stop starting new SIMs after this long (cron windows); 0 = none."`

	MaxConsecutiveFailures int  `name:"max-consecutive-failures" help:"Abort after this many SIMs in a row fail with 5xx or transport errors; 0 = off." default:"${default_maxfail}"`
	NoRetryUncertain       bool `name:"no-retry-uncertain" help:"Do not retry an attempt that may have reached the API."`

	Progress    string `help:"Progress display: auto, bar, log or off." enum:"auto,bar,log,off" default:"auto"`
	LogFormat   string `name:"log-format" help:"Log format on stderr: text or json." enum:"text,json" default:"text"`
	LogLevel    string `name:"log-level" help:"Log level: debug, info, warn or error." enum:"debug,info,warn,error" default:"info"`
	Lock        string `help:"Lock file against overlapping runs (default: --out + .lock)." placeholder:"PATH"`
	MetricsFile string `name:"metrics-file" help:"Write Prometheus textfile-collector metrics here at the end." placeholder:"PATH"`
	SummaryJSON string `name:"summary-json" help:"Write the summary as JSON here at the end." placeholder:"PATH"`

	inputName string    // how messages name the input, when not File (the demo's built-in fleet)
	summaryTo io.Writer // where the end-of-run summary is printed; nil = stderr
}

// Run is `simreset reset`.
func (c *resetCmd) Run(e *env) error {
	return c.run(context.Background(), e)
}

// config turns the flags and environment into the run's settings. The key comes
// only from MONOZ_API_KEY or --api-key-file, never from a flag value.
func (c *resetCmd) config(e *env) (batch.Config, error) {
	key := e.getenv("MONOZ_API_KEY")
	if c.APIKeyFile != "" {
		raw, err := os.ReadFile(c.APIKeyFile)
		if err != nil {
			return batch.Config{}, fmt.Errorf("%w: reading --api-key-file: %w", batch.ErrConfig, err)
		}
		key = strings.TrimSpace(string(raw))
	}
	return batch.Config{
		BaseURL: c.BaseURL, Org: c.Org, APIKey: key,
		Rate: c.Rate, Burst: c.Burst, Workers: c.Workers, Retries: c.Retries,
		Timeout: c.Timeout, MaxWait: c.MaxWait,
		MaxConsecutiveFailures: c.MaxConsecutiveFailures, NoRetryUncertain: c.NoRetryUncertain,
	}, nil
}

// outPath is --out, or FILE.results.csv, or standard output for standard input.
func (c *resetCmd) outPath() string {
	switch {
	case c.Out != "":
		return c.Out
	case c.File == "-":
		return "-"
	}
	return c.File + ".results.csv"
}

func (c *resetCmd) run(ctx context.Context, e *env) error {
	job, err := c.prepare(e)
	if err != nil {
		if exitCode(err) == exitSomeFailed {
			// Whatever failed before the first request (an output directory that
			// does not exist, a resume file that is not a result file), nothing
			// was sent: that is a usage problem, not a failed SIM.
			err = fmt.Errorf("%w: %w", errUsage, err)
		}
		return err
	}
	defer job.close()
	if c.DryRun {
		return dryRun(job.in, e.stdout, e.stderr)
	}
	return c.execute(ctx, e, job)
}

// job is what a run holds from prepare to its end.
type job struct {
	in      *batch.Input
	out     string
	file    *os.File // nil in a dry run
	writer  *report.Writer
	done    *report.DoneSet
	cfg     batch.Config
	logger  *slog.Logger
	closers []func() error // in reverse order: input, lock
}

func (j *job) close() {
	for i := len(j.closers) - 1; i >= 0; i-- {
		_ = j.closers[i]()
	}
}

// prepare checks and opens everything a run needs, in an order that sends
// nothing and touches no file until it is sure the run can go ahead: settings,
// the lock, the input, the resume file, then the result file.
func (c *resetCmd) prepare(e *env) (_ *job, err error) {
	j := &job{logger: newLogger(e.stderr, c.LogFormat, c.LogLevel), out: c.outPath(), done: &report.DoneSet{}}
	defer func() {
		if err != nil {
			j.close()
		}
	}()
	if j.cfg, err = c.config(e); err != nil {
		return nil, err
	}
	if !c.DryRun {
		if err := j.cfg.Validate(); err != nil {
			return nil, err
		}
		if err := c.checkPaths(j.out); err != nil {
			return nil, err
		}
		if lockPath := c.lockPath(j.out); lockPath != "" {
			release, err := report.AcquireLock(lockPath)
			if err != nil {
				return nil, err
			}
			j.closers = append(j.closers, release)
		}
	}

	in, err := batch.OpenInput(c.File, e.stdin, batch.ReaderOptions{Name: cmp.Or(c.inputName, c.File), Column: c.Column, Strict: c.Strict, Logger: j.logger})
	if err != nil {
		return nil, err
	}
	j.in = in
	j.closers = append(j.closers, in.Close)
	if e.getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit(in.Total()))
	}
	if c.DryRun {
		return j, nil
	}

	if c.Resume {
		done, err := report.LoadDone(j.out)
		switch {
		case errors.Is(err, os.ErrNotExist): // nothing to resume: a first run
		case err != nil:
			return nil, err
		default:
			j.done = done
		}
	}
	file, needHeader, err := report.OpenOutput(j.out, c.Force, c.Resume)
	if err != nil {
		return nil, err
	}
	j.file = file
	if j.writer, err = report.NewWriter(file, needHeader); err != nil {
		file.Close()
		return nil, err
	}
	return j, nil
}

// checkPaths refuses outputs that would destroy the input or fail only after
// every request went out.
func (c *resetCmd) checkPaths(out string) error {
	if out != "-" && c.File != "-" {
		outInfo, errOut := os.Stat(out)
		inInfo, errIn := os.Stat(c.File)
		if errOut == nil && errIn == nil && os.SameFile(outInfo, inInfo) {
			return fmt.Errorf("%w: --out %s is the input file itself: the results would overwrite the fleet", errUsage, out)
		}
		if errOut == nil && outInfo.IsDir() {
			return fmt.Errorf("%w: --out %s is a directory: give a file name", errUsage, out)
		}
	}
	for flag, path := range map[string]string{"--out": out, "--summary-json": c.SummaryJSON, "--metrics-file": c.MetricsFile} {
		if path == "" || path == "-" {
			continue
		}
		if err := checkWritableDir(filepath.Dir(path)); err != nil {
			return fmt.Errorf("%w: %s %s: %w", errUsage, flag, path, err)
		}
	}
	return nil
}

// checkWritableDir tells whether a file can be created in dir, by creating one.
func checkWritableDir(dir string) error {
	f, err := os.CreateTemp(dir, ".simreset-check-*")
	if err != nil {
		return fmt.Errorf("cannot create files in %s: %w", dir, errors.Unwrap(err))
	}
	f.Close()
	return os.Remove(f.Name())
}

// execute resets the SIMs, writes every result line, and ends with the summary.
func (c *resetCmd) execute(ctx context.Context, e *env, j *job) error {
	progress, err := report.NewProgress(report.ProgressOptions{Mode: c.Progress, Total: j.in.Total(), Writer: e.stderr})
	if err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	logger := newLogger(progress.LogWriter(), c.LogFormat, c.LogLevel)
	progress.SetLogger(logger)
	pool, err := batch.NewPool(j.cfg, batch.WithLogger(logger), batch.WithSkip(j.done.Has))
	if err != nil {
		return err
	}

	cfg := j.cfg
	logger.Info("start", "file", cmp.Or(c.inputName, c.File), "records", j.in.Total(), "column", j.in.Column(), "out", j.out,
		"org", cfg.Org, "base_url", cfg.BaseURL, "rate", cfg.Rate, "burst", cfg.Burst, "workers", cfg.Workers,
		"retries", cfg.Retries, "timeout", cfg.Timeout, "resume_skips", j.done.Len(), "luhn_failures", j.in.LuhnFailures())
	summary := report.NewSummary(time.Now())
	summary.SetLuhnFailures(j.in.LuhnFailures())
	ctx, stop, unwatch := signalContexts(ctx, e.signals)
	defer unwatch()
	if c.Deadline > 0 {
		var cancel context.CancelFunc
		stop, cancel = context.WithTimeoutCause(stop, c.Deadline, errDeadline)
		defer cancel()
	}
	runErr := pool.Run(ctx, stop, j.in, func(r batch.Result) error {
		if err := j.writer.Write(r); err != nil {
			return fmt.Errorf("writing %s: %w", j.out, err)
		}
		summary.Add(r)
		progress.Add(r)
		return nil
	})
	progress.Close()
	summary.Close(time.Now())
	if err := closeOutput(j.file, j.writer); err != nil && runErr == nil {
		runErr = fmt.Errorf("writing %s: %w", j.out, err)
	}
	if runErr == nil && !allReset(summary) {
		runErr = errSomeFailed
	}
	return c.finish(summary, runErr, e, logger)
}

// finish records how the run ended in the summary, prints it, and writes the
// summary and metrics files; failing to write them is an error of the run, so
// that a broken path under cron does not go unnoticed.
func (c *resetCmd) finish(summary *report.Summary, runErr error, e *env, logger *slog.Logger) error {
	reason := "done"
	if runErr != nil {
		reason = runErr.Error()
	}
	summary.SetEnd(exitCode(runErr), reason)
	if c.LogFormat == "json" && c.summaryTo == nil {
		// Keep stderr JSON lines: the summary is one more of them.
		var buf bytes.Buffer
		if err := summary.WriteJSON(&buf); err == nil {
			logger.Info("summary", "summary", json.RawMessage(bytes.TrimSpace(buf.Bytes())))
		}
	} else {
		_ = summary.WriteText(cmp.Or[io.Writer](c.summaryTo, e.stderr))
	}
	var fileErr error
	if c.SummaryJSON != "" {
		if err := report.WriteSummaryFile(c.SummaryJSON, summary); err != nil {
			fileErr = fmt.Errorf("writing --summary-json %s: %w", c.SummaryJSON, err)
		}
	}
	if c.MetricsFile != "" {
		if err := report.WriteMetricsFile(c.MetricsFile, summary); err != nil {
			fileErr = errors.Join(fileErr, fmt.Errorf("writing --metrics-file %s: %w", c.MetricsFile, err))
		}
	}
	logger.Info("end", "exit", exitCode(runErr), "reason", reason)
	if fileErr != nil && (runErr == nil || errors.Is(runErr, errSomeFailed)) {
		return fileErr
	}
	return runErr
}

// Validate refuses flag values that mean nothing, rather than quietly running
// with a default; kong calls it after parsing.
func (c *resetCmd) Validate() error {
	switch {
	case c.Workers < 1:
		return errors.New("--workers must be at least 1")
	case c.Burst < 1:
		return errors.New("--burst must be at least 1")
	case c.Rate < 0:
		return errors.New("--rate cannot be negative (0 means no limit)")
	case c.Retries < 0:
		return errors.New("--retries cannot be negative")
	case c.Timeout <= 0:
		return errors.New("--timeout must be more than 0")
	case c.MaxWait <= 0:
		return errors.New("--max-wait must be more than 0")
	case c.Deadline < 0:
		return errors.New("--deadline cannot be negative (0 means none)")
	case c.MaxConsecutiveFailures < 0:
		return errors.New("--max-consecutive-failures cannot be negative (0 turns the breaker off)")
	}
	return nil
}

// lockPath is --lock, or the result file's real path (symlinks resolved, so
// two names for one file share one lock) plus .lock.
func (c *resetCmd) lockPath(out string) string {
	switch {
	case c.Lock != "":
		return c.Lock
	case out == "-":
		return ""
	}
	if real, err := filepath.EvalSymlinks(out); err == nil {
		out = real
	}
	return out + ".lock"
}

// allReset tells whether every record ended reset, skipped or duplicate.
func allReset(s *report.Summary) bool {
	counts := s.Counts()
	return counts[batch.OutcomeFailed]+counts[batch.OutcomeInvalid]+counts[batch.OutcomeNotAttempted] == 0
}

// closeOutput flushes the writer and closes the file, unless it is stdout.
func closeOutput(file *os.File, w *report.Writer) error {
	err := w.Flush()
	if file == os.Stdout {
		return err
	}
	return errors.Join(err, file.Close())
}

// dryRun lists what a run would do, in the result file's format on out, with the
// totals on errOut. Nothing is sent.
func dryRun(in *batch.Input, out, errOut io.Writer) error {
	w, err := report.NewWriter(out, true)
	if err != nil {
		return err
	}
	summary := report.NewSummary(time.Now())
	for {
		rec, err := in.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if rec.Outcome == "" {
			rec.Outcome = batch.OutcomeWouldReset
		}
		r := rec.Result(time.Time{}) // nothing finished: finished_at stays empty
		if err := w.Write(r); err != nil {
			return err
		}
		summary.Add(r)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	summary.Close(time.Now())
	counts := summary.Counts()
	fmt.Fprintf(errOut, "dry run: %d records: %d would be reset, %d invalid, %d duplicate; nothing was sent\n",
		summary.Total(), counts[batch.OutcomeWouldReset], counts[batch.OutcomeInvalid], counts[batch.OutcomeDuplicate])
	if counts[batch.OutcomeInvalid] > 0 {
		return errSomeFailed
	}
	return nil
}

// memoryLimit is the soft heap limit for a run over records rows. The live heap
// is mostly the ICCID table (about 20 bytes a row); without a limit the GC lets
// the heap grow to twice the live size, which puts a million-row run near 64 MB
// (measured: 61 MB peak RSS without, 48 MB with 40 MiB). Past a million rows the
// limit grows with the table, so the GC does not run all the time.
func memoryLimit(records int) int64 {
	return 40<<20 + 2*20*int64(max(0, records-1_000_000))
}

// newLogger is the run's slog logger on w.
func newLogger(w io.Writer, format, level string) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(level)) // kong's enum has checked it
	opts := &slog.HandlerOptions{Level: lvl}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// demoCmd is `simreset demo`: the real reset pipeline, over real HTTP, against the
// simulator on a loopback port, on the built-in demo fleet.
type demoCmd struct {
	Fleet   string  `help:"Fleet file to use instead of the built-in testdata/fleet.csv." placeholder:"PATH"`
	Out     string  `help:"Result CSV." default:"demo-results.csv"`
	Rate    float64 `help:"Requests per second." default:"100"`
	Workers int     `help:"Requests in flight at most." default:"8"`
}

// demoUnknownPrefix marks the demo fleet's ICCIDs that the simulator does not know.
const demoUnknownPrefix = "8988299000999"

//go:embed testdata/fleet.csv
var demoFleet []byte

// Run is `simreset demo`.
func (d *demoCmd) Run(e *env) error {
	key := rand.Text() // a fresh key: the demo never sees a real one
	srv := mockapi.NewUnstartedServer(mockapi.Config{
		Org:        "demo-org",
		APIKey:     key,
		Latency:    20 * time.Millisecond,
		Unknown:    func(iccid string) bool { return strings.HasPrefix(iccid, demoUnknownPrefix) },
		Fail500:    0.05, // retried: the demo shows attempts > 1 on some lines
		Fail429:    0.01,
		RetryAfter: "1",
		Seed:       1,
	})
	if err := srv.Start(); err != nil {
		return fmt.Errorf("demo: starting the API simulator: %w", err)
	}
	defer srv.Close()

	rc := resetCmd{
		File: d.Fleet, Org: "demo-org", BaseURL: srv.URL(), Out: d.Out, Force: true,
		Rate: d.Rate, Burst: 1, Workers: d.Workers, Retries: batch.DefaultRetries,
		Timeout: 5 * time.Second, MaxWait: 2 * time.Second, MaxConsecutiveFailures: batch.DefaultMaxConsecutiveFailures,
		Progress: "auto", LogFormat: "text", LogLevel: "info",
		summaryTo: e.stdout,
	}
	demoEnv := *e
	demoEnv.getenv = func(name string) string {
		if name == "MONOZ_API_KEY" {
			return key
		}
		return ""
	}
	if d.Fleet == "" {
		rc.File, rc.inputName = "-", "testdata/fleet.csv (built in)"
		demoEnv.stdin = bytes.NewReader(demoFleet)
		rc.Out = d.Out
	}
	err := rc.run(context.Background(), &demoEnv)
	fmt.Fprintf(e.stdout, "\ndemo: results in %s; the simulator answered %d requests.\n", d.Out, srv.Total())
	if errors.Is(err, errSomeFailed) {
		// The demo fleet holds unknown SIMs and damaged rows on purpose: their
		// failed and invalid lines are the demo working, not failing.
		fmt.Fprintln(e.stdout, "demo: the failed and invalid lines are expected: the demo fleet holds unknown SIMs and damaged values on purpose.")
		return nil
	}
	return err
}

// mockAPICmd is `simreset mock-api`: the simulator as a standalone loopback server.
type mockAPICmd struct {
	Listen        string        `help:"Loopback address to listen on." default:"127.0.0.1:8080"`
	Org           string        `help:"Organisation id accepted in the path (default: any)." env:"MONOZ_ORG_ID"`
	Latency       time.Duration `help:"Added before every answer."`
	UnknownPrefix string        `name:"unknown-prefix" help:"ICCIDs starting with this are answered 404." default:"${demo_unknown}"`
	Fail500       float64       `name:"fail-500" help:"Share of requests answered 500."`
	Fail503       float64       `name:"fail-503" help:"Share of requests answered 503."`
	Fail429       float64       `name:"fail-429" help:"Share of requests answered 429."`
	FailHTML502   float64       `name:"fail-html-502" help:"Share of requests answered 502 with an HTML page."`
	FailReset     float64       `name:"fail-reset" help:"Share of connections reset before the answer."`
	FailHang      float64       `name:"fail-hang" help:"Share of requests never answered (until --hang-for)."`
	HangFor       time.Duration `name:"hang-for" help:"How long a hung request is held." default:"1m"`
	RetryAfter    string        `name:"retry-after" help:"Retry-After sent with 429 and 503 (seconds or HTTP date)."`
	RateLimit     float64       `name:"rate-limit" help:"Server-side limit in requests per second (429 above it); 0 = none."`
	RateBurst     int           `name:"rate-burst" help:"Burst of the server-side limit." default:"1"`
	Seed          int64         `help:"Seed of the fault draws, so runs repeat." default:"1"`
}

// Run is `simreset mock-api`. The accepted key is MONOZ_API_KEY (any non-empty
// key when unset).
func (m *mockAPICmd) Run(e *env) error {
	unknown := m.UnknownPrefix
	cfg := mockapi.Config{
		Org: m.Org, APIKey: e.getenv("MONOZ_API_KEY"), Latency: m.Latency,
		Unknown: func(iccid string) bool { return unknown != "" && strings.HasPrefix(iccid, unknown) },
		Fail500: m.Fail500, Fail503: m.Fail503, Fail429: m.Fail429, FailHTML502: m.FailHTML502,
		FailReset: m.FailReset, FailHang: m.FailHang, HangFor: m.HangFor, RetryAfter: m.RetryAfter,
		RateLimit: m.RateLimit, RateBurst: m.RateBurst, Seed: m.Seed,
	}
	_, stop, unwatch := signalContexts(context.Background(), e.signals) // the first signal ends the server
	defer unwatch()
	err := mockapi.Serve(stop, m.Listen, cfg, newLogger(e.stderr, "text", "info"))
	if errors.Is(err, mockapi.ErrNotLoopback) {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	return err
}
