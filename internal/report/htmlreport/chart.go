package htmlreport

import (
	"cmp"
	"fmt"
	"html/template"
	"slices"
	"strings"

	"github.com/iamwarden/iamwarden/internal/history"
	"github.com/iamwarden/iamwarden/internal/rules"
)

// chart is one drawing of open findings over time, with the table that says the same.
type chart struct {
	ID, Title, Desc string
	SVG             template.HTML
	Legend          []legendEntry
	Head            []string
	Rows            []chartRow
}

type legendEntry struct {
	Label  string
	Swatch template.HTML
}

type chartRow struct {
	When   string
	At     string
	Values []int
}

type series struct {
	name   string
	values []int
}

// Colours have at least 3:1 contrast on white; the dashes tell the lines apart without colour.
var (
	palette = []string{"#7f1d1d", "#b91c1c", "#92400e", "#1d4ed8", "#047857", "#6d28d9", "#be185d", "#0f766e", "#374151", "#4338ca", "#9a3412", "#115e59"}
	dashes  = []string{"", "6 3", "2 3", "8 3 2 3", "1 2", "10 4"}
)

// charts draws the history's open findings per severity and per rule. Each point adds up every
// account's latest record at that time.
func charts(metas []history.Meta) ([]chart, string) {
	if len(metas) == 0 {
		return nil, "No history was given: the charts need recorded scans (iamwarden report --html without --input, or with --history)."
	}
	ms := slices.Clone(metas)
	slices.SortStableFunc(ms, func(a, b history.Meta) int {
		return cmp.Or(a.RecordedAt.Compare(b.RecordedAt), strings.Compare(a.ID, b.ID))
	})
	latest := map[string]history.Meta{}
	var accounts []string
	type point struct {
		when  string
		at    string
		bySev map[string]int
		byRul map[string]int
	}
	var points []point
	ruleSeen := map[string]bool{}
	for _, m := range ms {
		if _, ok := latest[m.AccountID]; !ok {
			accounts = append(accounts, m.AccountID)
		}
		latest[m.AccountID] = m
		pt := point{when: human(m.RecordedAt), at: stamp(m.RecordedAt), bySev: map[string]int{}, byRul: map[string]int{}}
		for _, a := range accounts {
			for k, v := range latest[a].OpenBySeverity {
				pt.bySev[k] += v
			}
			for k, v := range latest[a].OpenByRule {
				pt.byRul[k] += v
				ruleSeen[k] = true
			}
		}
		points = append(points, pt)
	}
	var sev []series
	for _, s := range severityOrder {
		se := series{name: string(s)}
		for _, p := range points {
			se.values = append(se.values, p.bySev[string(s)])
		}
		sev = append(sev, se)
	}
	var ruleIDs []string
	for _, r := range rules.Registry() {
		if ruleSeen[r.ID] {
			ruleIDs = append(ruleIDs, r.ID)
			delete(ruleSeen, r.ID)
		}
	}
	var other []string
	for id := range ruleSeen {
		other = append(other, id)
	}
	slices.Sort(other)
	ruleIDs = append(ruleIDs, other...)
	var byRule []series
	for _, id := range ruleIDs {
		se := series{name: text(id)}
		for _, p := range points {
			se.values = append(se.values, p.byRul[id])
		}
		byRule = append(byRule, se)
	}
	when := make([]string, len(points))
	at := make([]string, len(points))
	for i, p := range points {
		when[i], at[i] = p.when, p.at
	}
	span := fmt.Sprintf("%s of %s, %s to %s", plural(len(points), "recorded run"), plural(len(accounts), "account"), when[0], when[len(when)-1])
	return []chart{
		draw("chart-severity", "Open findings by severity", "Violations and pending findings by severity over "+span+".", sev, when, at),
		draw("chart-rule", "Open findings by rule", "Violations and pending findings by rule over "+span+".", byRule, when, at),
	}, ""
}

// Geometry of a chart, in SVG user units.
const (
	chartW, chartH                     = 720, 260
	padLeft, padRight, padTop, padBott = 44, 16, 12, 36
)

func draw(id, title, desc string, ss []series, when, at []string) chart {
	c := chart{ID: id, Title: title, Desc: desc}
	c.Head = append(c.Head, "Recorded")
	for _, s := range ss {
		c.Head = append(c.Head, s.name)
	}
	top := 0
	for _, s := range ss {
		for _, v := range s.values {
			top = max(top, v)
		}
	}
	top = niceCeil(top)
	n := len(when)
	x := func(i int) float64 {
		if n == 1 {
			return padLeft + float64(chartW-padLeft-padRight)/2
		}
		return padLeft + float64(i)*float64(chartW-padLeft-padRight)/float64(n-1)
	}
	y := func(v int) float64 {
		return padTop + float64(chartH-padTop-padBott)*(1-float64(v)/float64(top))
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-labelledby="%s-t %s-d">`, chartW, chartH, id, id)
	fmt.Fprintf(&b, `<title id="%s-t">%s</title><desc id="%s-d">%s</desc>`, id, template.HTMLEscapeString(title), id, template.HTMLEscapeString(desc))
	for i := 0; i <= 4; i++ {
		v := top * i / 4
		fmt.Fprintf(&b, `<line class="grid" x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#d1d5db" stroke-width="1"/>`, padLeft, chartW-padRight, y(v), y(v))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" font-size="12" fill="#374151">%d</text>`, padLeft-6, y(v)+4, v)
	}
	labels := []int{0}
	if n > 2 {
		labels = append(labels, n/2)
	}
	if n > 1 {
		labels = append(labels, n-1)
	}
	for j, i := range labels {
		anchor := "middle"
		switch {
		case n > 1 && j == 0:
			anchor = "start"
		case n > 1 && i == n-1:
			anchor = "end"
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="%s" font-size="12" fill="#374151">%s</text>`, x(i), chartH-12, anchor, template.HTMLEscapeString(at[i][:10]))
	}
	for k, s := range ss {
		color, dash := palette[k%len(palette)], dashes[k%len(dashes)]
		var pts []string
		for i, v := range s.values {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(i), y(v)))
		}
		dashAttr := ""
		if dash != "" {
			dashAttr = fmt.Sprintf(` stroke-dasharray="%s"`, dash)
		}
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"%s/>`, strings.Join(pts, " "), color, dashAttr)
		for i, v := range s.values {
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s, %s: %d</title></circle>`, x(i), y(v), color,
				template.HTMLEscapeString(s.name), template.HTMLEscapeString(when[i]), v)
		}
		c.Legend = append(c.Legend, legendEntry{Label: s.name, Swatch: template.HTML(fmt.Sprintf(
			`<svg class="swatch" viewBox="0 0 28 10" aria-hidden="true"><line x1="1" x2="27" y1="5" y2="5" stroke="%s" stroke-width="3"%s/></svg>`, color, dashAttr))})
	}
	b.WriteString(`</svg>`)
	c.SVG = template.HTML(b.String()) // built here from numbers and escaped names only
	for i := range when {
		r := chartRow{When: when[i], At: at[i]}
		for _, s := range ss {
			r.Values = append(r.Values, s.values[i])
		}
		c.Rows = append(c.Rows, r)
	}
	return c
}

// niceCeil rounds a chart's top up to 4, or a multiple of 4 times 1, 2, 5 or 10 to the power of ten.
func niceCeil(v int) int {
	if v <= 4 {
		return 4
	}
	for step := 1; ; step *= 10 {
		for _, m := range []int{1, 2, 5} {
			if t := 4 * m * step; t >= v {
				return t
			}
		}
	}
}
