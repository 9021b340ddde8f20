package report

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/simreset/simreset/batch"
)

// The progress modes of --progress.
const (
	ProgressAuto = "auto" // bar when the writer is a terminal, else log
	ProgressBar  = "bar"  // a progress bar redrawn in place
	ProgressLog  = "log"  // a log line every interval
	ProgressOff  = "off"  // nothing
)

// DefaultProgressInterval is how often log mode reports when ProgressOptions.Interval is zero.
const DefaultProgressInterval = 5 * time.Second

// barThrottle bounds the bar's redraws: unthrottled, every result redraws (and syncs)
// the terminal, which costs more than the work at high rates.
const barThrottle = 100 * time.Millisecond

// ProgressOptions configures NewProgress.
type ProgressOptions struct {
	// Mode is auto, bar, log or off; empty means auto.
	Mode string
	// Total is the number of results expected; 0 when unknown (standard input, or a
	// file not counted first): the bar then spins and log lines carry no ETA.
	Total int
	// Writer is where the bar is drawn and, in log mode without a Logger, where the
	// log lines go; usually os.Stderr. nil means os.Stderr.
	Writer io.Writer
	// Logger receives log mode's lines. It may be nil at construction, since the
	// program's logger is usually built on LogWriter: give it later with SetLogger.
	// Until then log mode writes plain slog text lines to Writer.
	Logger *slog.Logger
	// Interval is the time between log mode's lines; 0 means DefaultProgressInterval.
	Interval time.Duration
}

// Progress shows how far a run is, on a terminal as a bar and elsewhere (cron) as a
// periodic log line. It keeps its own counters, so it counts whether or not anything
// is shown. Add, LogWriter's writer, SetLogger and the accessors are safe for
// concurrent use. The caller calls Close when the run is over, before printing the
// summary, so that the bar is gone and the next line starts clean.
type Progress struct {
	mode  string
	total int
	w     io.Writer
	start time.Time

	done   atomic.Int64
	failed atomic.Int64
	logger atomic.Pointer[slog.Logger]

	// mu guards bar and closed, and serialises every write to w while a bar is
	// drawn: progressbar's Clear is not synchronised with its own redraws.
	mu     sync.Mutex
	bar    *progressbar.ProgressBar
	closed bool

	stop      chan struct{} // closed by Close to end log mode's loop
	loopDone  chan struct{} // closed by that loop when it returns
	closeOnce sync.Once
}

// NewProgress starts showing progress as opts says. It fails only for an unknown
// mode. In log mode it starts a goroutine that Close stops.
func NewProgress(opts ProgressOptions) (*Progress, error) {
	w := opts.Writer
	if w == nil {
		w = os.Stderr
	}
	mode := opts.Mode
	switch mode {
	case "", ProgressAuto:
		mode = ProgressLog
		if isTerminal(w) {
			mode = ProgressBar
		}
	case ProgressBar, ProgressLog, ProgressOff:
	default:
		return nil, fmt.Errorf("report: unknown progress mode %q (want auto, bar, log or off)", opts.Mode)
	}
	p := &Progress{mode: mode, total: max(opts.Total, 0), w: w, start: time.Now()}
	if opts.Logger != nil {
		p.logger.Store(opts.Logger)
	}
	switch mode {
	case ProgressBar:
		p.bar = newBar(w, p.total)
	case ProgressLog:
		interval := opts.Interval
		if interval <= 0 {
			interval = DefaultProgressInterval
		}
		p.stop, p.loopDone = make(chan struct{}), make(chan struct{})
		go p.logLoop(interval)
	}
	return p, nil
}

// isTerminal tells whether w is a terminal (only an *os.File can be).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func newBar(w io.Writer, total int) *progressbar.ProgressBar {
	limit := int64(total)
	if total == 0 {
		limit = -1 // unknown length: a spinner with a count; Add on max 0 is an error
	}
	return progressbar.NewOptions64(limit,
		progressbar.OptionSetWriter(w),
		progressbar.OptionThrottle(barThrottle),
		progressbar.OptionSetDescription("resetting"),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("SIMs"),
		progressbar.OptionSetWidth(30),
		// No spinner goroutine: it would redraw outside mu, over log lines.
		progressbar.OptionSetSpinnerChangeInterval(0),
		progressbar.OptionSetRenderBlankState(true),
	)
}

// Mode returns the mode in use: bar, log or off (auto resolved).
func (p *Progress) Mode() string { return p.mode }

// Done returns the number of results added so far.
func (p *Progress) Done() int { return int(p.done.Load()) }

// Failed returns the number of failed results added so far.
func (p *Progress) Failed() int { return int(p.failed.Load()) }

// SetLogger gives log mode the logger for its lines (see ProgressOptions.Logger).
func (p *Progress) SetLogger(l *slog.Logger) { p.logger.Store(l) }

// Add counts one result.
func (p *Progress) Add(r batch.Result) {
	p.done.Add(1)
	failed := p.failed.Load()
	if r.Outcome == batch.OutcomeFailed {
		failed = p.failed.Add(1)
	}
	if p.bar == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	if r.Outcome == batch.OutcomeFailed {
		p.bar.Describe(fmt.Sprintf("resetting (%d failed)", failed))
	}
	// The only errors are a total that was counted too low, or a write to a closed
	// terminal: neither is a reason to stop resetting SIMs.
	_ = p.bar.Add(1)
}

// Close stops the display: the bar is erased (its line left empty for what follows)
// and log mode's goroutine ends. Later Adds are counted but not shown. Close may be
// called more than once.
func (p *Progress) Close() {
	p.closeOnce.Do(func() {
		if p.stop != nil {
			close(p.stop)
			<-p.loopDone
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		p.closed = true
		if p.bar != nil {
			_ = p.bar.Clear()
			_ = p.bar.Exit()
		}
	})
}

// LogWriter returns the writer a slog handler should write to. In bar mode it erases
// the bar, writes the log line, and lets the next Add (at most the throttle later)
// draw the bar again below it, so log lines and the bar never share a line; each
// Write should be whole lines, as slog handlers write them. In other modes it is the
// plain Writer.
func (p *Progress) LogWriter() io.Writer {
	if p.bar == nil {
		return p.w
	}
	return barLogWriter{p}
}

type barLogWriter struct{ p *Progress }

func (b barLogWriter) Write(buf []byte) (int, error) {
	p := b.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		_ = p.bar.Clear()
	}
	return p.w.Write(buf)
}

// logLoop writes a progress line every interval until Close.
func (p *Progress) logLoop(interval time.Duration) {
	defer close(p.loopDone)
	t := time.NewTicker(interval)
	defer t.Stop()
	lastDone, lastTime := int64(0), p.start
	for {
		select {
		case <-p.stop:
			return
		case now := <-t.C:
			done := p.done.Load()
			// The rate over the last interval, not since the start: a resumed run
			// skips thousands of SIMs in its first second, and a 429 slows the pool.
			rate := perSecond(int(done-lastDone), now.Sub(lastTime))
			lastDone, lastTime = done, now
			p.logLine(done, rate)
		}
	}
}

func (p *Progress) logLine(done int64, rate float64) {
	l := p.logger.Load()
	if l == nil {
		l = slog.New(slog.NewTextHandler(p.w, nil))
	}
	attrs := []any{slog.Int64("done", done)}
	if p.total > 0 {
		attrs = append(attrs, slog.Int("total", p.total),
			slog.String("percent", fmt.Sprintf("%.1f", 100*float64(done)/float64(p.total))))
	}
	attrs = append(attrs, slog.String("sims_per_second", fmt.Sprintf("%.1f", rate)))
	if left := int64(p.total) - done; p.total > 0 && left > 0 && rate > 0 {
		eta := time.Duration(float64(left) / rate * float64(time.Second))
		attrs = append(attrs, slog.Duration("eta", eta.Round(time.Second)))
	}
	attrs = append(attrs, slog.Int64("failed", p.failed.Load()))
	l.Info("progress", attrs...)
}
