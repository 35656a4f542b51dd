package lambdafn

import (
	"encoding/json"
	"io"
	"time"
)

// MetricsNamespace is the CloudWatch namespace of the function's metrics.
const MetricsNamespace = "iamwarden"

// metricNames are the Response counts published as metrics, in the record's order.
var metricNames = []string{"Findings", "Planned", "Done", "Skipped", "Refused", "Failed", "Warnings", "Evaluations", "Ignored", "Partial"}

// writeMetrics writes the invocation's counts as one CloudWatch embedded metric format record.
// Lambda sends the line to CloudWatch Logs, which makes metrics of it: no API call, no permission,
// nothing to fail the invocation.
func writeMetrics(w io.Writer, r *Response, at time.Time) error {
	b2i := func(b bool) int {
		if b {
			return 1
		}
		return 0
	}
	values := []int{r.Findings, r.Planned, r.Done, r.Skipped, r.Refused, r.Failed, r.Warnings, r.Evaluations, b2i(r.Ignored != ""), b2i(r.Partial)}
	type metric struct {
		Name string `json:"Name"`
		Unit string `json:"Unit"`
	}
	defs := make([]metric, len(metricNames))
	rec := map[string]any{"Event": string(r.Event), "Mode": string(r.Mode)}
	for i, n := range metricNames {
		defs[i] = metric{Name: n, Unit: "Count"}
		rec[n] = values[i]
	}
	rec["_aws"] = map[string]any{
		"Timestamp": at.UnixMilli(),
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace":  MetricsNamespace,
			"Dimensions": [][]string{{"Mode", "Event"}},
			"Metrics":    defs,
		}},
	}
	line, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	_, err = w.Write(append(line, '\n'))
	return err
}
