package report

import (
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// WriteMetricsFile writes the run's figures in the Prometheus text format to path,
// for node_exporter's textfile collector (whose file names end in .prom). The write is
// atomic (a temporary file beside path, then a rename), so the collector never reads
// half a file. The metrics, all gauges describing the last run:
//
//	simreset_last_run_start_timestamp_seconds   Unix time the run started
//	simreset_last_run_end_timestamp_seconds     Unix time the run ended
//	simreset_last_run_success                   1 when the exit status was 0, else 0
//	simreset_last_run_exit_code                 the exit status
//	simreset_last_run_duration_seconds          elapsed time
//	simreset_last_run_sims{outcome}             results per outcome, every outcome present
//	simreset_last_run_responses{code}           results per final HTTP status
//	simreset_last_run_attempts                  HTTP attempts, retries included
//	simreset_last_run_luhn_failures             input rows whose ICCID fails the Luhn check
//	simreset_last_run_latency_seconds{quantile} 0.5, 0.95 and 1 (the maximum)
//
// A registry private to the call is used, never the global one, so the file holds
// these figures and no process metrics.
func WriteMetricsFile(path string, s *Summary) error {
	reg := prometheus.NewRegistry()
	j := s.snapshot()

	gauge := func(name, help string, v float64) {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "simreset", Name: name, Help: help})
		g.Set(v)
		reg.MustRegister(g)
	}
	vec := func(name, help, label string) *prometheus.GaugeVec {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "simreset", Name: name, Help: help}, []string{label})
		reg.MustRegister(g)
		return g
	}

	success := 0.0
	if j.ExitCode == 0 {
		success = 1
	}
	gauge("last_run_start_timestamp_seconds", "Unix time the last simreset run started.", unixSeconds(j.Start))
	gauge("last_run_end_timestamp_seconds", "Unix time the last simreset run ended.", unixSeconds(j.End))
	gauge("last_run_success", "1 when the last simreset run exited with status 0, else 0.", success)
	gauge("last_run_exit_code", "Exit status of the last simreset run.", float64(j.ExitCode))
	gauge("last_run_duration_seconds", "Elapsed time of the last simreset run.", j.ElapsedSeconds)
	gauge("last_run_attempts", "HTTP attempts made by the last simreset run, retries included.", float64(j.Attempts))
	gauge("last_run_luhn_failures", "Input rows of the last simreset run whose ICCID fails the Luhn check.", float64(j.LuhnFailures))

	sims := vec("last_run_sims", "Result lines of the last simreset run, by outcome.", "outcome")
	for o, n := range j.Outcomes {
		sims.WithLabelValues(o).Set(float64(n))
	}
	responses := vec("last_run_responses", "Result lines of the last simreset run, by final HTTP status.", "code")
	for c, n := range j.StatusCodes {
		responses.WithLabelValues(c).Set(float64(n))
	}
	latency := vec("last_run_latency_seconds", "Latency of the SIMs the last simreset run sent to the API (quantile 1 is the maximum).", "quantile")
	for q, v := range map[float64]float64{0.5: j.Latency.P50, 0.95: j.Latency.P95, 1: j.Latency.Max} {
		latency.WithLabelValues(strconv.FormatFloat(q, 'g', -1, 64)).Set(v)
	}

	if err := prometheus.WriteToTextfile(path, reg); err != nil {
		return fmt.Errorf("report: write metrics %s: %w", path, err)
	}
	return nil
}

// unixSeconds returns t as fractional Unix seconds, 0 for the zero time.
func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixMilli()) / 1e3
}
