package bench

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iamwarden/iamwarden/internal/config"
	"github.com/iamwarden/iamwarden/internal/history"
	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/journal"
	"github.com/iamwarden/iamwarden/internal/journal/sqlite"
	"github.com/iamwarden/iamwarden/internal/report"
	"github.com/iamwarden/iamwarden/internal/report/htmlreport"
	"github.com/iamwarden/iamwarden/internal/rules"
	"github.com/iamwarden/iamwarden/internal/warden"
)

// Targets of the history and HTML report benchmarks, at 10,000 users.
const (
	historyUsers  = 10000
	putBudget     = 2 * time.Second
	getBudget     = 2 * time.Second
	recordBudget  = 2 << 20 // bytes a record adds to the SQLite file
	compareBudget = 500 * time.Millisecond
	historyHeap   = 384 // MiB of peak heap while storing, reading or comparing a record
	htmlBudget    = 3 * time.Second
	pageBudget    = 10 << 20        // bytes of the HTML page
	htmlHeap      = 384             // MiB of peak heap while writing the page
	loadBudget    = 8 * time.Second // headless Chromium, from the navigation to the load event
	seriesPoints  = 90              // daily records the page's charts draw
	demoAccount   = "../examples/demo-account"
)

// BenchmarkHistory10k records the scan of a 10,000-user account in a SQLite journal, reads it
// back and compares it with a second record that differs by 1% of its findings: the time of
// each, the bytes a record adds to the file and the peak heap.
func BenchmarkHistory10k(b *testing.B) {
	res := largeResult(b)
	later := drift(res)
	var m historyFigures
	for b.Loop() {
		m = measureHistory(b, res, later)
	}
	b.ReportMetric(m.put.Seconds(), "put-s")
	b.ReportMetric(m.get.Seconds(), "get-s")
	b.ReportMetric(m.compare.Seconds(), "compare-s")
	b.ReportMetric(float64(m.stored)/(1<<20), "stored-MiB")
	b.ReportMetric(m.heapMiB, "peak-heap-MiB")
	fmt.Printf("\n%d users, %d findings; second record: %d changes (%d new, %d changed, %d resolved), %d unchanged\n",
		res.Summary.Users, len(res.Findings), m.changes, m.count[history.ChangeNew], m.count[history.ChangeChanged],
		m.count[history.ChangeResolved], m.unchanged)
	fmt.Printf("  Put     %6.3fs, %6.3fs (budget %s each)\n", m.put.Seconds(), m.putLater.Seconds(), putBudget)
	fmt.Printf("  Get     %6.3fs, %6.3fs (budget %s each)\n", m.get.Seconds(), m.getLater.Seconds(), getBudget)
	fmt.Printf("  Compare %6.3fs (budget %s)\n", m.compare.Seconds(), compareBudget)
	fmt.Printf("  record: %.1f MiB of JSON, %.2f MiB gzipped; the file grew %.2f MiB and %.2f MiB (budget %.0f MiB each)\n",
		mib(m.body), mib(m.gzipped), mib(m.stored), mib(m.storedLater), mib(recordBudget))
	fmt.Printf("  peak heap %.0f MiB (put %.0f, get %.0f, compare %.0f; %.0f MiB live before, the two results held; budget %d MiB)\n",
		m.heapMiB, m.heap["put"], m.heap["get"], m.heap["compare"], m.baseMiB, historyHeap)
	for _, d := range []struct {
		name      string
		got, want time.Duration
	}{
		{"Put", max(m.put, m.putLater), putBudget},
		{"Get", max(m.get, m.getLater), getBudget},
		{"Compare", m.compare, compareBudget},
	} {
		if d.got > d.want {
			b.Fatalf("%s took %s, budget %s", d.name, d.got, d.want)
		}
	}
	if s := max(m.stored, m.storedLater); s > recordBudget {
		b.Fatalf("a record grew the journal by %d bytes, budget %d", s, recordBudget)
	}
	if m.heapMiB > historyHeap {
		b.Fatalf("peak heap %.0f MiB, budget %d MiB", m.heapMiB, historyHeap)
	}
}

// BenchmarkHTMLReport10k writes the HTML page of the 10,000-user account with 90 days of
// history: time, page size and peak heap; with chromium on PATH, the time headless Chromium
// takes to open it, until its DOM is ready and its script has run, and until its load event.
func BenchmarkHTMLReport10k(b *testing.B) {
	res := largeResult(b)
	rec := history.Record{ID: "01KA0000000000000000000000", Kind: history.KindScan, Source: history.SourceCLI,
		RecordedAt: res.GeneratedAt, Result: *res}
	in := htmlreport.Input{Title: "IAM users: 10,000-user account", GeneratedAt: res.GeneratedAt, Version: "bench",
		Accounts: []htmlreport.Account{{AccountID: res.AccountID, Name: res.AccountAlias, Result: res}},
		History:  dailySeries(rec.Meta(), seriesPoints)}
	var (
		wall time.Duration
		size int64
		peak float64
	)
	for b.Loop() {
		runtime.GC()
		w := watchHeap()
		var cw countingWriter
		start := time.Now()
		if err := htmlreport.Write(&cw, in); err != nil {
			b.Fatal(err)
		}
		wall = time.Since(start)
		peak = w.stop()
		size = cw.n
	}
	b.ReportMetric(wall.Seconds(), "write-s")
	b.ReportMetric(float64(size)/(1<<20), "page-MiB")
	b.ReportMetric(peak, "peak-heap-MiB")
	fmt.Printf("\n%d users, %d findings, %d history points: page %.1f MiB (%d bytes, %.0f bytes a finding), written in %.3fs, peak heap %.0f MiB\n",
		res.Summary.Users, len(res.Findings), len(in.History), mib(size), size, float64(size)/float64(len(res.Findings)), wall.Seconds(), peak)
	fmt.Printf("  budgets: %s, %.0f MiB page, %d MiB heap\n", htmlBudget, mib(pageBudget), htmlHeap)
	var page bytes.Buffer
	if err := htmlreport.Write(&page, in); err != nil {
		b.Fatal(err)
	}
	load, loaded := pageLoad(b, writePage(b, page.Bytes()))
	if loaded {
		b.ReportMetric(load.Ready.Seconds(), "chromium-ready-s")
		b.ReportMetric(load.Load.Seconds(), "chromium-load-s")
		fmt.Printf("  headless Chromium: DOM ready, the script run, in %.2fs; loaded in %.2fs (budget %s)\n", load.Ready.Seconds(), load.Load.Seconds(), loadBudget)
	} else {
		fmt.Println("  chromium not on PATH: the page's load time is not measured")
	}
	if loaded && load.Load > loadBudget {
		b.Fatalf("Chromium loaded the page in %s, budget %s", load.Load, loadBudget)
	}
	if wall > htmlBudget {
		b.Fatalf("page written in %s, budget %s", wall, htmlBudget)
	}
	if size > pageBudget {
		b.Fatalf("page of %d bytes, budget %d", size, pageBudget)
	}
	if peak > htmlHeap {
		b.Fatalf("peak heap %.0f MiB, budget %d MiB", peak, htmlHeap)
	}
}

type historyFigures struct {
	put, putLater, get, getLater, compare time.Duration
	body, gzipped, stored, storedLater    int64
	heap                                  map[string]float64
	heapMiB, baseMiB                      float64
	changes, unchanged                    int
	count                                 map[history.ChangeKind]int
}

// measureHistory stores both records in a new journal, each Put by a journal opened and closed
// around it as `scan --record` does (so the file's growth includes SQLite's checkpoint), reads
// them back from a journal opened again and compares them, as `iamwarden diff` does.
func measureHistory(b *testing.B, res, later *report.Result) historyFigures {
	b.Helper()
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "journal.db")
	m := historyFigures{heap: map[string]float64{}, count: map[history.ChangeKind]int{}}
	open := func() (*sqlite.Journal, *history.Store) {
		j, err := sqlite.Open(ctx, path)
		if err != nil {
			b.Fatal(err)
		}
		h, err := history.Of(j, time.Now)
		if err != nil {
			b.Fatal(err)
		}
		return j, h
	}
	closeJ := func(j *sqlite.Journal) {
		if err := j.Close(); err != nil {
			b.Fatal(err)
		}
	}
	j, _ := open()
	closeJ(j)
	empty := fileSize(b, path)
	runtime.GC()
	m.baseMiB = heapMiB()

	recs := []history.Record{
		{Kind: history.KindScan, Source: history.SourceCLI, Actor: "arn:aws:iam::" + res.AccountID + ":user/auditor", RecordedAt: res.GeneratedAt, Result: *res},
		{Kind: history.KindScan, Source: history.SourceCLI, Actor: "arn:aws:iam::" + res.AccountID + ":user/auditor", RecordedAt: later.GeneratedAt, Result: *later},
	}
	body, err := json.Marshal(recs[0])
	if err != nil {
		b.Fatal(err)
	}
	gz, err := journal.CompressBody(body)
	if err != nil {
		b.Fatal(err)
	}
	m.body, m.gzipped = int64(len(body)), int64(len(gz))

	ids := make([]string, len(recs))
	sizes := []int64{empty}
	for i, rec := range recs {
		j, h := open()
		w := watchHeap()
		start := time.Now()
		if ids[i], err = h.Put(ctx, rec); err != nil {
			b.Fatal(err)
		}
		d := time.Since(start)
		m.heap["put"] = max(m.heap["put"], w.stop())
		closeJ(j)
		sizes = append(sizes, fileSize(b, path))
		if i == 0 {
			m.put = d
		} else {
			m.putLater = d
		}
	}
	m.stored, m.storedLater = sizes[1]-sizes[0], sizes[2]-sizes[1]

	j, h := open()
	defer closeJ(j)
	runtime.GC()
	w := watchHeap()
	start := time.Now()
	from, err := h.Get(ctx, ids[0])
	if err != nil {
		b.Fatal(err)
	}
	m.get = time.Since(start)
	start = time.Now()
	to, err := h.Get(ctx, ids[1])
	if err != nil {
		b.Fatal(err)
	}
	m.getLater = time.Since(start)
	m.heap["get"] = w.stop()
	if len(from.Result.Findings) != len(res.Findings) || len(to.Result.Findings) != len(later.Findings) {
		b.Fatalf("read back %d and %d findings, stored %d and %d", len(from.Result.Findings), len(to.Result.Findings),
			len(res.Findings), len(later.Findings))
	}

	w = watchHeap()
	start = time.Now()
	d, err := history.Compare(from, to)
	if err != nil {
		b.Fatal(err)
	}
	m.compare = time.Since(start)
	m.heap["compare"] = w.stop()
	m.heapMiB = max(m.heap["put"], m.heap["get"], m.heap["compare"])
	m.changes, m.unchanged = len(d.Changes), d.Unchanged
	for _, k := range []history.ChangeKind{history.ChangeNew, history.ChangeChanged, history.ChangeResolved, history.ChangeUnseen} {
		m.count[k] = d.Count(k)
	}
	if m.changes == 0 {
		b.Fatal("the two records compare equal")
	}
	return m
}

// fileSize is the bytes of a SQLite database on disk, with its write-ahead log.
func fileSize(b *testing.B, path string) int64 {
	b.Helper()
	var n int64
	for _, p := range []string{path, path + "-wal"} {
		st, err := os.Stat(p)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			b.Fatal(err)
		}
		n += st.Size()
	}
	return n
}

// drift is the scan of the next day: 1% of the findings differ from res (a third resolved, a
// third changed from pending to violation or from violation or exempt to pending, a third new,
// on users added since).
func drift(res *report.Result) *report.Result {
	out := *res
	out.GeneratedAt = res.GeneratedAt.Add(24 * time.Hour)
	out.AsOf = res.AsOf.Add(24 * time.Hour)
	out.Findings = make([]rules.Finding, 0, len(res.Findings))
	added := 0
	for i, f := range res.Findings {
		switch i % 300 {
		case 0:
			continue // resolved
		case 100:
			if f.State == rules.StatePending {
				f.State = rules.StateViolation
			} else {
				f.State = rules.StatePending
			}
		case 200:
			added++
			n := f
			name := fmt.Sprintf("joiner-%04d", added)
			n.ID = strings.Replace(f.ID, "/"+f.Principal, "/"+name, 1)
			n.PrincipalARN = strings.TrimSuffix(f.PrincipalARN, f.Principal) + name
			n.Principal, n.UserID = name, fmt.Sprintf("AIDAJOINER%011d", added)
			out.Findings = append(out.Findings, n)
		}
		out.Findings = append(out.Findings, f)
	}
	out.Count(res.Summary.Users + added)
	return &out
}

// dailySeries is n daily records of the account ending with m, its open findings falling by
// half a percent a day towards m's.
func dailySeries(m history.Meta, n int) []history.Meta {
	out := make([]history.Meta, 0, n)
	for i := range n {
		back := n - 1 - i
		p := m
		p.ID = fmt.Sprintf("01KA%022d", i)
		p.RecordedAt = m.RecordedAt.Add(-time.Duration(back) * 24 * time.Hour)
		p.AsOf = m.AsOf.Add(-time.Duration(back) * 24 * time.Hour)
		scale := func(v int) int { return v + v*back/200 }
		p.OpenByRule, p.OpenBySeverity = map[string]int{}, map[string]int{}
		for k, v := range m.OpenByRule {
			p.OpenByRule[k] = scale(v)
		}
		for k, v := range m.OpenBySeverity {
			p.OpenBySeverity[k] = scale(v)
		}
		p.Summary.Violations, p.Summary.Pending = scale(m.Summary.Violations), scale(m.Summary.Pending)
		out = append(out, p)
	}
	return out
}

var tenThousand = sync.OnceValues(func() (*report.Result, error) {
	dir, err := os.MkdirTemp("", "iamwarden-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	return auditScaled(demoAccount, dir, historyUsers)
})

// largeResult is the scan of a 10,000-user account, made once per test binary.
func largeResult(b *testing.B) *report.Result {
	b.Helper()
	res, err := tenThousand()
	if err != nil {
		b.Fatal(err)
	}
	return res
}

// auditScaled writes an export of n users to dir, copies of the demo account's users that have
// findings, and scans it as `iamwarden scan --from dir` does: every finding, detail and evidence
// is the real rules'.
func auditScaled(demo, dir string, n int) (*report.Result, error) {
	ctx := context.Background()
	settings, err := warden.Resolve(config.Default(), "", warden.Overrides{})
	if err != nil {
		return nil, err
	}
	w := &warden.Warden{Settings: settings}
	base, err := w.Audit(ctx, warden.AuditOptions{From: demo})
	if err != nil {
		return nil, err
	}
	withFindings := map[string]bool{}
	for _, f := range base.Findings {
		withFindings[f.Principal] = true
	}
	raw, err := inventory.ReadExport(demo)
	if err != nil {
		return nil, err
	}
	if raw, err = scaleExport(raw, withFindings, n); err != nil {
		return nil, err
	}
	if err := inventory.WriteExport(dir, raw); err != nil {
		return nil, err
	}
	res, err := w.Audit(ctx, warden.AuditOptions{From: dir})
	if err != nil {
		return nil, err
	}
	if res.Summary.Users != n {
		return nil, fmt.Errorf("scaled export has %d users, want %d", res.Summary.Users, n)
	}
	return res, nil
}

// scaleExport returns raw with n users: the users keep names cycled through, each copy renamed,
// with its own user ID, access key IDs and MFA device, and its credential report row, keys,
// login profile, keys' last uses and MFA device copied from the original, every time moved back
// by up to 12 hours (the same for one copy), so that copies differ as real users do.
func scaleExport(raw inventory.Raw, keep map[string]bool, n int) (inventory.Raw, error) {
	rows, err := csv.NewReader(bytes.NewReader(raw.CredentialReport)).ReadAll()
	if err != nil {
		return raw, fmt.Errorf("credential report: %w", err)
	}
	rowOf := map[string][]string{}
	var out [][]string
	for i, r := range rows {
		if i == 0 || r[0] == "<root_account>" {
			out = append(out, r)
		} else {
			rowOf[r[0]] = r
		}
	}
	var models []inventory.UserDetail
	for _, u := range raw.Authorization.UserDetailList {
		if keep[u.UserName] && rowOf[u.UserName] != nil {
			models = append(models, u)
		}
	}
	if len(models) == 0 {
		return raw, fmt.Errorf("no user with findings in the demo account")
	}
	keysOf := map[string][]inventory.AccessKeyRecord{}
	for _, k := range raw.AccessKeys {
		keysOf[k.UserName] = append(keysOf[k.UserName], k)
	}
	profileOf := map[string]inventory.LoginProfileRecord{}
	for _, p := range raw.LoginProfiles {
		profileOf[p.UserName] = p
	}
	mfaOf := map[string]inventory.VirtualMFADevice{}
	var mfas []inventory.VirtualMFADevice
	for _, d := range raw.VirtualMFADevices {
		if d.User != nil && d.User.UserName != "" {
			mfaOf[d.User.UserName] = d
		} else {
			mfas = append(mfas, d) // the root's
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	id := func(prefix string, length int) string {
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
		var sb strings.Builder
		sb.WriteString(prefix)
		for range length {
			sb.WriteByte(alphabet[rng.IntN(len(alphabet))])
		}
		return sb.String()
	}
	var (
		users    []inventory.UserDetail
		keys     []inventory.AccessKeyRecord
		profiles []inventory.LoginProfileRecord
		lastUses = map[string]inventory.KeyLastUseRecord{}
	)
	for i := range n {
		u := models[i%len(models)]
		old := u.UserName
		shift := -time.Duration(rng.IntN(12*3600)) * time.Second
		at := func(t time.Time) time.Time {
			if t.IsZero() {
				return t
			}
			return t.Add(shift)
		}
		name := fmt.Sprintf("%s-%05d", old, i/len(models))
		u.UserName, u.UserId = name, id("AIDA", 17)
		u.Arn = strings.TrimSuffix(u.Arn, old) + name
		u.CreateDate = at(u.CreateDate)
		users = append(users, u)
		r := slices.Clone(rowOf[old])
		r[0], r[1] = name, u.Arn
		for c := 2; c < len(r); c++ {
			if t, err := time.Parse(time.RFC3339, r[c]); err == nil {
				r[c] = at(t).UTC().Format("2006-01-02T15:04:05-07:00")
			}
		}
		out = append(out, r)
		for _, k := range keysOf[old] {
			oldID := k.AccessKeyId
			k.UserName, k.AccessKeyId, k.CreateDate = name, id("AKIA", 16), at(k.CreateDate)
			keys = append(keys, k)
			if lu, ok := raw.KeyLastUses[oldID]; ok {
				if lu.LastUsedDate != nil {
					t := at(*lu.LastUsedDate)
					lu.LastUsedDate = &t
				}
				lastUses[k.AccessKeyId] = lu
			}
		}
		if p, ok := profileOf[old]; ok {
			p.UserName, p.CreateDate = name, at(p.CreateDate)
			profiles = append(profiles, p)
		}
		if d, ok := mfaOf[old]; ok {
			d.SerialNumber = fmt.Sprintf("%s-%05d", d.SerialNumber, i/len(models))
			d.User = &inventory.MFAUser{UserName: name, UserId: u.UserId, Arn: u.Arn}
			if d.EnableDate != nil {
				t := at(*d.EnableDate)
				d.EnableDate = &t
			}
			mfas = append(mfas, d)
		}
	}
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	if err := cw.WriteAll(out); err != nil {
		return raw, err
	}
	auth := *raw.Authorization
	auth.UserDetailList = users
	raw.Authorization = &auth
	raw.CredentialReport = buf.Bytes()
	raw.AccessKeys, raw.LoginProfiles, raw.KeyLastUses, raw.VirtualMFADevices = keys, profiles, lastUses, mfas
	return raw, nil
}

// heapWatch samples the heap every millisecond and keeps its peak; runtime/metrics reads it
// without stopping the world.
type heapWatch struct {
	done chan struct{}
	peak chan float64
}

func watchHeap() *heapWatch {
	w := &heapWatch{done: make(chan struct{}), peak: make(chan float64)}
	go func() {
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		peak := heapMiB()
		for {
			select {
			case <-w.done:
				w.peak <- max(peak, heapMiB())
				return
			case <-t.C:
				peak = max(peak, heapMiB())
			}
		}
	}()
	return w
}

// stop ends the sampling and returns the peak, in MiB.
func (w *heapWatch) stop() float64 {
	close(w.done)
	return <-w.peak
}

// heapMiB is the heap's objects, live and not yet swept, in MiB.
func heapMiB() float64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return float64(s[0].Value.Uint64()) / (1 << 20)
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// countingWriter counts the bytes written to it.
type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}
