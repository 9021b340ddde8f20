// Command runner is the benchmark of SPEC.md section 8 (issue 5). bench/run.sh
// builds it and runs it; see BENCHMARKS.md. It starts `simreset mock-api` as
// processes of their own on loopback (one without latency, one with 50 ms),
// generates the fleet files with genfleet, measures every row against them in
// one run, and prints one Markdown table on stdout; progress goes to stderr.
// Every figure about requests is counted by the simulator (GET /_sim/stats),
// not by the tool measured. Every command has a timeout and runs in a process
// group of its own that is killed on timeout, on SIGINT/SIGTERM, or if the
// runner dies.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The fixed settings of the table (SPEC.md section 8).
const (
	benchKey      = "bench-key" // the simulator accepts any key
	benchOrg      = "bench"
	inFlight      = 64 // throughput: requests in flight for every tool
	rateLimit     = 200
	rateWorkers   = 16
	maxPerSecond  = rateLimit + 1 // rate x 1 s window + burst 1
	rateTarget    = 0.98
	latency       = 50 * time.Millisecond
	latWorkers    = 100
	latTarget     = 0.9
	heyShare      = 0.7 // simreset must reach this share of hey's rate
	rssTargetKiB  = 64 << 10
	memoryWorkers = 64
)

// sizes are the SIM counts of one mode.
type sizes struct {
	rate, throughput, shell, newman, python, latency, large int
	rounds                                                  int // runs of the fast throughput tools; the median is kept
}

var (
	fullSizes  = sizes{rate: 4000, throughput: 20000, shell: 4000, newman: 2000, python: 20000, latency: 4000, large: 1_000_000, rounds: 5}
	quickSizes = sizes{rate: 400, throughput: 5000, shell: 300, newman: 100, python: 2000, latency: 1000, large: 100_003, rounds: 1}
)

type bench struct {
	simreset, genfleet, work, peers, newman, timeBin string
	installed                                        bool // run.sh tried to install the peers
	quick                                            bool
	rows                                             map[string]bool // the rows to measure
	n                                                sizes
	started                                          time.Time
	loadBefore                                       string // /proc/loadavg at the start
}

func main() {
	var b bench
	flag.StringVar(&b.simreset, "simreset", "", "simreset binary (required)")
	flag.StringVar(&b.genfleet, "genfleet", "", "genfleet binary (required)")
	flag.StringVar(&b.work, "work", "", "directory for fleet files, outputs and logs (required)")
	flag.StringVar(&b.peers, "peers", "bench/peers", "directory of the peer helpers (threadpool.py, newman-collection.json)")
	flag.StringVar(&b.newman, "newman", "", "newman binary; default: newman on PATH")
	flag.BoolVar(&b.installed, "installed", false, "the peers' installation was attempted (for the notes of a skipped peer)")
	flag.BoolVar(&b.quick, "quick", false, "small counts for a smoke run")
	only := flag.String("rows", "rate,throughput,latency,memory", "the rows to measure, comma-separated (all for the table of record)")
	flag.Parse()
	b.rows = map[string]bool{}
	for _, r := range strings.Split(*only, ",") {
		b.rows[strings.TrimSpace(r)] = true
	}
	log.SetFlags(0)
	log.SetPrefix("bench: ")
	if b.simreset == "" || b.genfleet == "" || b.work == "" {
		flag.Usage()
		os.Exit(2)
	}
	b.n = fullSizes
	if b.quick {
		b.n = quickSizes
	}
	if p, err := exec.LookPath("/usr/bin/time"); err == nil {
		b.timeBin = p
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b.started = time.Now()
	b.loadBefore = loadavg()
	rows, err := b.run(ctx)
	b.print(os.Stdout, rows)
	if err != nil {
		log.Print(err)
		stop()
		os.Exit(1)
	}
}

// row is one line of the table.
type row struct {
	measure, tool, sims, measured, figure, target, met, notes string
}

// run measures every row; it returns the rows measured so far with the error
// that stopped it (a step that fails is a row saying so, not an error).
func (b *bench) run(ctx context.Context) ([]row, error) {
	var rows []row
	fleets, large, err := b.generate(ctx)
	if err != nil {
		return rows, err
	}
	log.Print("starting the simulators")
	sim0, err := startSim(ctx, b.simreset, filepath.Join(b.work, "sim-0ms.log"))
	if err != nil {
		return rows, err
	}
	defer sim0.stop()
	sim50, err := startSim(ctx, b.simreset, filepath.Join(b.work, "sim-50ms.log"), "--latency", latency.String())
	if err != nil {
		return rows, err
	}
	defer sim50.stop()

	for _, step := range []struct {
		name string
		rows func() []row
	}{
		{"rate", func() []row { return []row{b.rateRow(ctx, sim0, fleets)} }},
		{"throughput", func() []row { return b.throughputRows(ctx, sim0, fleets) }},
		{"latency", func() []row { return []row{b.latencyRow(ctx, sim50, fleets)} }},
		{"memory", func() []row { return b.memoryRows(ctx, sim0, large) }},
	} {
		if b.rows[step.name] && ctx.Err() == nil {
			rows = append(rows, step.rows()...)
		}
	}
	return rows, context.Cause(ctx)
}

// genSummary is genfleet's line on stderr.
type genSummary struct {
	Rows          int `json:"rows"`
	DistinctValid int `json:"distinct_valid"`
	Duplicates    int `json:"duplicates"`
	Invalid       int `json:"invalid"`
}

// largeFleet is the million-row file and what a dry run of it must report.
type largeFleet struct {
	path string
	want genSummary
}

// generate writes the fleet files: one clean file per SIM count, each the
// first rows of the same generated sequence, with the ICCIDs alone beside it
// for the shell peers; and the large dirty file.
func (b *bench) generate(ctx context.Context) (map[int]string, largeFleet, error) {
	log.Print("generating the fleet files")
	fleets := map[int]string{}
	for _, n := range []int{b.n.rate, b.n.throughput, b.n.shell, b.n.newman, b.n.python, b.n.latency} {
		if _, ok := fleets[n]; ok {
			continue
		}
		path := filepath.Join(b.work, fmt.Sprintf("fleet-%d.csv", n))
		r := run{name: b.genfleet, args: []string{"-n", strconv.Itoa(n), "-o", path}, timeout: time.Minute}
		if res := r.exec(ctx, ""); res.err != nil || res.exit != 0 {
			return nil, largeFleet{}, fmt.Errorf("genfleet -n %d: exit %d %v", n, res.exit, res.err)
		}
		if err := writeICCIDs(path, idsPath(path)); err != nil {
			return nil, largeFleet{}, err
		}
		fleets[n] = path
	}
	large := largeFleet{path: filepath.Join(b.work, fmt.Sprintf("large-%d.csv", b.n.large))}
	summary := filepath.Join(b.work, "large.summary.json")
	r := run{name: b.genfleet, args: []string{"-n", strconv.Itoa(b.n.large), "-dirty", "-o", large.path},
		stderr: summary, timeout: 5 * time.Minute}
	if res := r.exec(ctx, ""); res.err != nil || res.exit != 0 {
		return nil, large, fmt.Errorf("genfleet -dirty: exit %d %v", res.exit, res.err)
	}
	raw, err := os.ReadFile(summary)
	if err != nil {
		return nil, large, err
	}
	if err := json.Unmarshal(raw, &large.want); err != nil {
		return nil, large, fmt.Errorf("genfleet summary %q: %w", raw, err)
	}
	return fleets, large, nil
}

func idsPath(fleet string) string { return strings.TrimSuffix(fleet, ".csv") + ".iccids.txt" }

// writeICCIDs copies the first column of a fleet file, header dropped.
func writeICCIDs(fleet, out string) error {
	in, err := os.Open(fleet)
	if err != nil {
		return err
	}
	defer in.Close()
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	sc := bufio.NewScanner(in)
	for first := true; sc.Scan(); first = false {
		if !first {
			id, _, _ := strings.Cut(sc.Text(), ",")
			w.WriteString(id + "\n")
		}
	}
	err = sc.Err()
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// reset is a `simreset reset` of fleet against s, with the flags given.
func (b *bench) reset(s *sim, fleet, out string, timeout time.Duration, flags ...string) run {
	args := append([]string{"reset", "--org", benchOrg, "--base-url", s.url, "--progress", "off",
		"--force", "--out", out}, flags...)
	return run{
		name: b.simreset, args: append(args, fleet), env: []string{"MONOZ_API_KEY=" + benchKey},
		stderr: out + ".log", timeout: timeout,
	}
}

// check names what is wrong with a step that should have sent want requests,
// all answered 2xx; "" when nothing is.
func check(p phase, want int) string {
	var bad []string
	if p.err != nil {
		bad = append(bad, p.err.Error())
	}
	if p.statusErr != nil {
		bad = append(bad, p.statusErr.Error())
	}
	if p.Requests != want {
		bad = append(bad, fmt.Sprintf("the server saw %d requests, not %d", p.Requests, want))
	}
	if p.notOK > 0 {
		bad = append(bad, fmt.Sprintf("%d answers were not 2xx", p.notOK))
	}
	return strings.Join(bad, "; ")
}

func (b *bench) rateRow(ctx context.Context, s *sim, fleets map[int]string) row {
	n := b.n.rate
	log.Printf("rate fidelity: %d SIMs at %d/s (%v)", n, rateLimit, time.Duration(n/rateLimit)*time.Second)
	r := b.reset(s, fleets[n], filepath.Join(b.work, "rate.results.csv"), time.Duration(n/rateLimit+60)*time.Second,
		"--rate", strconv.Itoa(rateLimit), "--burst", "1", "--workers", strconv.Itoa(rateWorkers))
	p := s.measure(ctx, func() ran { return r.exec(ctx, "") })
	frac := p.Rate / rateLimit
	met := frac >= rateTarget && p.Max1s <= maxPerSecond
	return row{
		measure:  "rate fidelity",
		tool:     fmt.Sprintf("simreset `--rate %d --burst 1 --workers %d`", rateLimit, rateWorkers),
		sims:     thousands(n),
		measured: fmt.Sprintf("%.1f req/s; at most %d in any 1 s", p.Rate, p.Max1s),
		figure:   fmt.Sprintf("%.3f of %d/s", frac, rateLimit),
		target:   fmt.Sprintf(">= %.2f; <= %d in 1 s", rateTarget, maxPerSecond),
		met:      verdict(met, check(p, n)),
		notes:    noteOr(check(p, n), fmt.Sprintf("requests / (last - first arrival); wall %s", secs(p.wall))),
	}
}

// peer is one tool of the throughput rows.
type peer struct {
	name, tool string
	sims       int
	rounds     int
	missing    string // why it is skipped; "" = it runs
	note       string
	cmd        func() run
}

func (b *bench) throughputRows(ctx context.Context, s *sim, fleets map[int]string) []row {
	target := s.url + "/" + benchOrg + "/Sim/Reset"
	body := filepath.Join(b.work, "hey-body.json")
	os.WriteFile(body, []byte(`{"ICCID":"89882470000100000013"}`), 0o644)
	curlArgs := []string{"-s", "-o", "/dev/null", "-X", "PUT", "-H", "Content-Type: application/json",
		"-H", "X-API-Key: " + benchKey, "--data", `{"ICCID":"{}"}`, target}
	newman := b.newman
	if newman == "" {
		newman, _ = exec.LookPath("newman")
	}
	pt := 5 * time.Minute
	// hey sends n/c requests from each of its c workers, dropping the remainder.
	heyN := b.n.throughput / inFlight * inFlight
	peers := []*peer{
		{name: "simreset", tool: fmt.Sprintf("simreset `--rate 0 --workers %d`", inFlight), sims: b.n.throughput, rounds: b.n.rounds,
			cmd: func() run {
				return b.reset(s, fleets[b.n.throughput], filepath.Join(b.work, "throughput.results.csv"), pt,
					"--rate", "0", "--workers", strconv.Itoa(inFlight))
			}},
		{name: "hey", tool: fmt.Sprintf("hey `-c %d -m PUT`", inFlight), sims: heyN, rounds: b.n.rounds,
			note: "the ceiling: a load generator; one fixed body for every request, no result file",
			cmd: func() run {
				return run{name: "hey", args: []string{"-n", strconv.Itoa(heyN), "-c", strconv.Itoa(inFlight),
					"-m", "PUT", "-T", "application/json", "-H", "X-API-Key: " + benchKey, "-D", body, target},
					stdout: filepath.Join(b.work, "hey.out"), timeout: pt}
			}},
		{name: "python", tool: fmt.Sprintf("Python `ThreadPoolExecutor(%d)`, http.client keep-alive", inFlight), sims: b.n.python, rounds: b.n.rounds,
			note: "bench/peers/threadpool.py; no retries, no result file",
			cmd: func() run {
				return run{name: "python3", args: []string{filepath.Join(b.peers, "threadpool.py"), s.url, benchOrg,
					fleets[b.n.python], strconv.Itoa(b.n.python), strconv.Itoa(inFlight)},
					env: []string{"MONOZ_API_KEY=" + benchKey}, stdout: filepath.Join(b.work, "python.out"), timeout: pt}
			}},
		{name: "xargs", tool: fmt.Sprintf("`xargs -P %d` curl", inFlight), sims: b.n.shell, rounds: 1,
			note: "one curl process per SIM",
			cmd: func() run {
				return run{name: "xargs", args: append([]string{"-P", strconv.Itoa(inFlight), "-I{}", "curl"}, curlArgs...),
					stdin: idsPath(fleets[b.n.shell]), timeout: pt}
			}},
		{name: "parallel", tool: fmt.Sprintf("GNU `parallel -j %d` curl", inFlight), sims: b.n.shell, rounds: 1,
			note: "one curl process per SIM",
			cmd: func() run {
				args := append([]string{"-j", strconv.Itoa(inFlight), "--will-cite", "-q", "curl"}, curlArgs...)
				return run{name: "parallel", args: append(args, "::::", idsPath(fleets[b.n.shell])), timeout: pt}
			}},
		{name: "newman", tool: "newman, CSV data file", sims: b.n.newman, rounds: 1,
			note: "one request at a time: newman has no concurrency setting",
			cmd: func() run {
				return run{name: newman, args: []string{"run", filepath.Join(b.peers, "newman-collection.json"),
					"-d", fleets[b.n.newman], "--env-var", "baseUrl=" + s.url, "--env-var", "org=" + benchOrg,
					"--env-var", "apiKey=" + benchKey, "--silent"}, timeout: pt}
			}},
	}
	need := map[string][]string{"hey": {"hey"}, "python": {"python3"}, "xargs": {"xargs", "curl"},
		"parallel": {"parallel", "curl"}, "newman": {newman}}
	for _, p := range peers {
		for _, bin := range need[p.name] {
			if bin == "" {
				bin = "newman"
			}
			if _, err := exec.LookPath(bin); err != nil {
				p.missing = b.skipReason(bin)
				break
			}
		}
	}

	results := map[string][]phase{}
	rounds := slices.MaxFunc(peers, func(a, b *peer) int { return a.rounds - b.rounds }).rounds
	for round := range rounds {
		for _, p := range peers {
			if p.missing != "" || round >= p.rounds || ctx.Err() != nil {
				continue
			}
			log.Printf("throughput: %s, %d SIMs (run %d of %d)", p.name, p.sims, round+1, p.rounds)
			r := p.cmd()
			results[p.name] = append(results[p.name], s.measure(ctx, func() ran { return r.exec(ctx, "") }))
		}
	}

	own := median(results["simreset"])
	var rows []row
	for _, p := range peers {
		r := row{measure: "throughput", tool: p.tool, sims: thousands(p.sims)}
		if p.missing != "" {
			r.measured, r.figure, r.met, r.notes = "-", "-", "skipped", p.missing
			rows = append(rows, r)
			continue
		}
		ph := results[p.name]
		if len(ph) == 0 {
			r.measured, r.figure, r.met, r.notes = "-", "-", "no", "not run: interrupted"
			rows = append(rows, r)
			continue
		}
		m := median(ph)
		problems := make([]string, 0, len(ph))
		for _, one := range ph {
			if c := check(one, p.sims); c != "" {
				problems = append(problems, c)
			}
		}
		r.measured = fmt.Sprintf("%s req/s", thousands(int(m.Rate+0.5)))
		if len(ph) > 1 {
			each := make([]string, len(ph))
			for i, one := range ph {
				each[i] = thousands(int(one.Rate + 0.5))
			}
			r.measured += fmt.Sprintf(" (median of %s)", strings.Join(each, ", "))
		}
		ratio := 0.0
		if own.Rate > 0 {
			ratio = m.Rate / own.Rate
		}
		r.figure = fmt.Sprintf("%.3g x simreset", ratio)
		switch p.name {
		case "simreset":
			r.figure, r.target = "1", "-"
			r.met = verdict(true, strings.Join(problems, "; "))
		case "hey":
			r.target = fmt.Sprintf("simreset >= %.1f x hey", heyShare)
			share := 0.0
			if m.Rate > 0 {
				share = own.Rate / m.Rate
			}
			r.met = verdict(share >= heyShare, strings.Join(problems, "; ")) + fmt.Sprintf(" (%.2f)", share)
		default:
			r.target = "simreset ahead"
			r.met = verdict(ratio < 1, strings.Join(problems, "; "))
		}
		r.notes = noteOr(strings.Join(problems, "; "), p.note)
		if p.name == "simreset" && len(problems) == 0 {
			r.notes = "writes the result file, one flushed line per SIM"
		}
		rows = append(rows, r)
	}
	return rows
}

// skipReason says why a peer's binary is absent.
func (b *bench) skipReason(bin string) string {
	if b.installed {
		return fmt.Sprintf("skipped: %s could not be installed (see the install log in the work directory)", filepath.Base(bin))
	}
	return fmt.Sprintf("skipped: %s not found (run.sh --quick installs nothing)", filepath.Base(bin))
}

// median is the phase of median rate.
func median(ps []phase) phase {
	if len(ps) == 0 {
		return phase{}
	}
	s := slices.Clone(ps)
	slices.SortFunc(s, func(a, b phase) int {
		switch {
		case a.Rate < b.Rate:
			return -1
		case a.Rate > b.Rate:
			return 1
		}
		return 0
	})
	return s[len(s)/2]
}

func (b *bench) latencyRow(ctx context.Context, s *sim, fleets map[int]string) row {
	n := b.n.latency
	log.Printf("latency hiding: %d SIMs, %v latency, %d workers", n, latency, latWorkers)
	r := b.reset(s, fleets[n], filepath.Join(b.work, "latency.results.csv"), 5*time.Minute,
		"--rate", "0", "--workers", strconv.Itoa(latWorkers))
	p := s.measure(ctx, func() ran { return r.exec(ctx, "") })
	ideal := float64(latWorkers) / latency.Seconds()
	// From the first arrival to the last answer: the last request is answered
	// one latency after it arrives.
	achieved := 0.0
	if span := time.Duration(p.LastNS-p.FirstNS) + latency; p.Requests > 0 {
		achieved = float64(p.Requests) / span.Seconds()
	}
	frac := achieved / ideal
	return row{
		measure:  "latency hiding",
		tool:     fmt.Sprintf("simreset `--workers %d --rate 0`, simulator `--latency %v`", latWorkers, latency),
		sims:     thousands(n),
		measured: fmt.Sprintf("%s SIMs/s", thousands(int(achieved+0.5))),
		figure:   fmt.Sprintf("%.3f of %s/s", frac, thousands(int(ideal))),
		target:   fmt.Sprintf(">= %.1f", latTarget),
		met:      verdict(frac >= latTarget, check(p, n)),
		notes:    noteOr(check(p, n), fmt.Sprintf("requests / (last arrival + %v - first arrival); wall %s", latency, secs(p.wall))),
	}
}

var dryTotals = regexp.MustCompile(`dry run: (\d+) records: (\d+) would be reset, (\d+) invalid, (\d+) duplicate`)

func (b *bench) memoryRows(ctx context.Context, s *sim, large largeFleet) []row {
	rows := make([]row, 0, 2)
	how := "/usr/bin/time -v"
	if b.timeBin == "" {
		how = "wait4 rusage (no /usr/bin/time)"
	}
	sims := thousands(large.want.Rows) + " rows"

	log.Printf("memory: --dry-run of %d rows", large.want.Rows)
	dryOut := filepath.Join(b.work, "large.dry-run.csv")
	dry := run{name: b.simreset, args: []string{"reset", "--dry-run", large.path}, stdout: dryOut,
		stderr: dryOut + ".log", timeout: 10 * time.Minute, timeRSS: b.timeBin}
	d := dry.exec(ctx, filepath.Join(b.work, "dry-run.time"))
	var problems []string
	if d.err != nil {
		problems = append(problems, d.err.Error())
	}
	if logb, err := os.ReadFile(dryOut + ".log"); err == nil {
		m := dryTotals.FindSubmatch(logb)
		w := large.want
		want := fmt.Sprintf("%d %d %d %d", w.Rows, w.DistinctValid, w.Invalid, w.Duplicates)
		if m == nil || fmt.Sprintf("%s %s %s %s", m[1], m[2], m[3], m[4]) != want {
			problems = append(problems, fmt.Sprintf("totals differ from genfleet's (%s)", want))
		}
	}
	rows = append(rows, row{
		measure:  "memory, time",
		tool:     "simreset `reset --dry-run`",
		sims:     sims,
		measured: fmt.Sprintf("peak RSS %s; %s", mib(d.rssKB), secs(d.wall)),
		figure:   mib(d.rssKB),
		target:   fmt.Sprintf("<= %s", mib(rssTargetKiB)),
		met:      verdict(d.rssKB > 0 && d.rssKB <= rssTargetKiB, strings.Join(problems, "; ")),
		notes:    noteOr(strings.Join(problems, "; "), fmt.Sprintf("%s; totals as genfleet says (%d would reset, %d invalid, %d duplicate)", how, large.want.DistinctValid, large.want.Invalid, large.want.Duplicates)),
	})
	if ctx.Err() != nil {
		return rows
	}

	log.Printf("memory: full run of %d rows, --rate 0 --workers %d", large.want.Rows, memoryWorkers)
	out := filepath.Join(b.work, "large.results.csv")
	full := b.reset(s, large.path, out, 20*time.Minute, "--rate", "0", "--workers", strconv.Itoa(memoryWorkers))
	full.timeRSS = b.timeBin
	p := s.measure(ctx, func() ran { return full.exec(ctx, filepath.Join(b.work, "full-run.time")) })
	problems = problems[:0]
	if c := check(p, large.want.DistinctValid); c != "" {
		problems = append(problems, c)
	}
	if lines, err := countLines(out); err != nil || lines != large.want.Rows+1 {
		problems = append(problems, fmt.Sprintf("result file: %d lines, want %d (%v)", lines, large.want.Rows+1, err))
	}
	rows = append(rows, row{
		measure:  "memory, time",
		tool:     fmt.Sprintf("simreset `reset --rate 0 --workers %d`", memoryWorkers),
		sims:     sims,
		measured: fmt.Sprintf("peak RSS %s; %s; %s req/s", mib(p.rssKB), secs(p.wall), thousands(int(p.Rate+0.5))),
		figure:   mib(p.rssKB),
		target:   fmt.Sprintf("<= %s", mib(rssTargetKiB)),
		met:      verdict(p.rssKB > 0 && p.rssKB <= rssTargetKiB, strings.Join(problems, "; ")),
		notes:    noteOr(strings.Join(problems, "; "), fmt.Sprintf("%s; %d calls, one result line per row", how, large.want.DistinctValid)),
	})
	return rows
}

func countLines(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n := 0
	buf := make([]byte, 1<<20)
	for {
		k, err := f.Read(buf)
		n += bytes.Count(buf[:k], []byte{'\n'})
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

func verdict(met bool, problem string) string {
	switch {
	case problem != "":
		return "**no** (invalid run)"
	case met:
		return "yes"
	}
	return "**no**"
}

func noteOr(problem, note string) string {
	if problem != "" {
		return problem
	}
	return note
}

func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func mib(kib int64) string { return fmt.Sprintf("%.1f MiB", float64(kib)/1024) }

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

// print writes the heading, the machine and the table.
func (b *bench) print(w io.Writer, rows []row) {
	mode := "full"
	if b.quick {
		mode = "quick (smoke run: small counts, not the figures of record)"
	}
	fmt.Fprintf(w, "### simreset benchmark, %s, %s\n\n", mode, time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(w, "Machine: %s; runner built with %s; %s. Load average before: %s, after: %s. Took %s.\n\n",
		machine(), runtime.Version(), version(b.simreset), b.loadBefore, loadavg(), time.Since(b.started).Round(time.Second))
	fmt.Fprintln(w, "| row | tool | SIMs | measured (by the simulator) | figure | target | met | notes |")
	fmt.Fprintln(w, "|---|---|---:|---|---|---|---|---|")
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s |\n",
			r.measure, r.tool, r.sims, r.measured, r.figure, r.target, r.met, strings.ReplaceAll(r.notes, "|", "/"))
	}
}

// machine describes the CPUs and kernel.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	var u syscall.Utsname
	kernel := "?"
	if syscall.Uname(&u) == nil {
		var sb strings.Builder
		for _, c := range u.Release {
			if c == 0 {
				break
			}
			sb.WriteByte(byte(c))
		}
		kernel = sb.String()
	}
	return fmt.Sprintf("%d CPUs (nproc; %s), Linux %s", runtime.NumCPU(), model, kernel)
}

func version(simreset string) string {
	out, err := exec.Command(simreset, "--version").Output()
	if err != nil {
		return "simreset version unknown"
	}
	return strings.TrimSpace(string(out))
}

// loadavg is the 1, 5 and 15 minute load averages: other work on the machine
// moves the throughput figures.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "?"
}
