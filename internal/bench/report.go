package bench

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
)

// WriteText prints the report as a table, one row a scenario.
func (r *Report) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "keyward bench against %s, started %s, load average %s\n\n", r.BaseURL, r.Started.Format("2006-01-02 15:04:05Z"), r.LoadAvg)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tmode\tops/s\tp50 ms\tp90 ms\tp99 ms\tmax ms\tcpu s\tops/s/core\tcpu ms/op\tRSS MB\tceiling/core\tratio\terrors\t")
	for _, res := range r.Results {
		if res.SetupError != "" {
			fmt.Fprintf(tw, "%s\tnot run: %s\t\n", res.Scenario, res.SetupError)
			continue
		}
		mode := fmt.Sprintf("c=%d", res.Concurrency)
		if res.Mode == "open" {
			mode = fmt.Sprintf("rate=%g", res.TargetRate)
		}
		opt := func(v float64, format string) string {
			if v == 0 {
				return "-"
			}
			return fmt.Sprintf(format, v)
		}
		rss := "-"
		if res.ServerRSSAfterKB > 0 {
			rss = fmt.Sprintf("%.1f→%.1f", float64(res.ServerRSSBeforeKB)/1024, float64(res.ServerRSSAfterKB)/1024)
		}
		ratio := "-"
		if res.CeilingRatio > 0 {
			ratio = fmt.Sprintf("%.0f%%", res.CeilingRatio*100)
		}
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.2f\t%.2f\t%.2f\t%.2f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n",
			res.Scenario, mode, res.PerSecond, res.Latency.P50, res.Latency.P90, res.Latency.P99, res.Latency.Max,
			opt(res.ServerCPUSeconds, "%.2f"), opt(res.PerServerCore, "%.0f"), opt(res.CPUPerOpMS, "%.3f"), rss,
			opt(res.Ceiling, "%.0f"), ratio, errorList(res.Errors))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Ceilings) > 0 {
		fmt.Fprintln(w, "\nsigning ceiling, JWTs per second on one core with the server's signing code:")
		for _, k := range slices.Sorted(maps.Keys(r.Ceilings)) {
			fmt.Fprintf(w, "  %-12s %8.0f\n", k, r.Ceilings[k])
		}
	}
	return nil
}

func errorList(errs map[string]int64) string {
	if len(errs) == 0 {
		return "0"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(errs)) {
		parts = append(parts, fmt.Sprintf("%s×%d", k, errs[k]))
	}
	return strings.Join(parts, " ")
}
