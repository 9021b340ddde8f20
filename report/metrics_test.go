package report

import (
	"os"
	"path/filepath"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// writeAndParse writes s's metrics file and parses it back as node_exporter's
// textfile collector would.
func writeAndParse(t *testing.T, s *Summary) (string, map[string]*dto.MetricFamily) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "simreset.prom")
	if err := WriteMetricsFile(path, s); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(f)
	if err != nil {
		t.Fatalf("%s does not parse: %v", path, err)
	}
	return path, families
}

func TestWriteMetricsFile(t *testing.T) {
	path, families := writeAndParse(t, knownRun())

	value := func(name, label, labelValue string) (float64, bool) {
		mf, ok := families["simreset_"+name]
		if !ok {
			return 0, false
		}
		if mf.GetType() != dto.MetricType_GAUGE {
			t.Errorf("%s is %v, want a gauge", name, mf.GetType())
		}
		for _, m := range mf.GetMetric() {
			if label == "" && len(m.GetLabel()) == 0 {
				return m.GetGauge().GetValue(), true
			}
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == labelValue {
					return m.GetGauge().GetValue(), true
				}
			}
		}
		return 0, false
	}
	for _, tc := range []struct {
		name, label, value string
		want               float64
		tolerance          float64
	}{
		{"last_run_start_timestamp_seconds", "", "", float64(t0.Unix()), 0},
		{"last_run_end_timestamp_seconds", "", "", float64(t0.Unix() + 100), 0},
		{"last_run_success", "", "", 0, 0},
		{"last_run_exit_code", "", "", 1, 0},
		{"last_run_duration_seconds", "", "", 100, 0},
		{"last_run_attempts", "", "", 1105, 0},
		{"last_run_luhn_failures", "", "", 3, 0},
		{"last_run_sims", "outcome", "reset", 900, 0},
		{"last_run_sims", "outcome", "failed", 101, 0},
		{"last_run_sims", "outcome", "invalid", 1, 0},
		{"last_run_sims", "outcome", "duplicate", 1, 0},
		{"last_run_sims", "outcome", "skipped", 0, 0},
		{"last_run_sims", "outcome", "not_attempted", 1, 0},
		{"last_run_responses", "code", "200", 900, 0},
		{"last_run_responses", "code", "500", 100, 0},
		{"last_run_latency_seconds", "quantile", "0.5", 0.5, 0.02},
		{"last_run_latency_seconds", "quantile", "0.95", 0.95, 0.02},
		{"last_run_latency_seconds", "quantile", "1", 1, 0},
	} {
		got, ok := value(tc.name, tc.label, tc.value)
		if !ok {
			t.Errorf("no simreset_%s{%s=%q}", tc.name, tc.label, tc.value)
			continue
		}
		if !within(got, tc.want, tc.tolerance) {
			t.Errorf("simreset_%s{%s=%q} = %v, want %v", tc.name, tc.label, tc.value, got, tc.want)
		}
	}
	if n := len(families); n != 10 {
		t.Errorf("%d metric families, want 10 (no process or Go metrics)", n)
	}
	if n := len(families["simreset_last_run_responses"].GetMetric()); n != 2 {
		t.Errorf("%d response codes, want 2", n)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("metrics file: %v, mode %v; want 644", err, st.Mode().Perm())
	}
}

func TestWriteMetricsFileSuccess(t *testing.T) {
	s := NewSummary(t0)
	s.Close(t0.Add(1500 * 1e6))
	s.SetEnd(0, "done")
	_, families := writeAndParse(t, s)
	if got := families["simreset_last_run_success"].GetMetric()[0].GetGauge().GetValue(); got != 1 {
		t.Errorf("last_run_success = %v, want 1", got)
	}
	if got := len(families["simreset_last_run_sims"].GetMetric()); got != 6 {
		t.Errorf("%d outcomes, want all 6 even when zero", got)
	}
}

func TestWriteMetricsFileError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "simreset.prom")
	if err := WriteMetricsFile(path, knownRun()); err == nil {
		t.Error("WriteMetricsFile into a missing dir succeeded")
	}
}
