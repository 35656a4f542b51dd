package faultproxy_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iamwarden/iamwarden/internal/faultproxy"
)

// backend is a target that answers every request with 200 and counts what it received.
type backend struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string // Action or X-Amz-Target of each request received
	hits atomic.Int64
}

func newBackend(t *testing.T) *backend {
	t.Helper()
	b := &backend{}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		b.mu.Lock()
		b.seen = append(b.seen, faultproxy.Operation(r.Header, body))
		b.mu.Unlock()
		b.hits.Add(1)
		w.Header().Set("Content-Type", "text/xml")
		w.Header().Set("X-Backend", "yes")
		fmt.Fprintf(w, "<ok>%s</ok>", body)
	}))
	t.Cleanup(b.Close)
	return b
}

func newProxy(t *testing.T, target string, o faultproxy.Options) *faultproxy.Proxy {
	t.Helper()
	p := faultproxy.New(target, o)
	t.Cleanup(p.Close)
	return p
}

// query posts a Query-protocol request for action with extra form fields.
func query(t *testing.T, p *faultproxy.Proxy, action string, kv ...string) (*http.Response, string, error) {
	t.Helper()
	form := url.Values{"Action": {action}, "Version": {"2010-05-08"}}
	for i := 0; i+1 < len(kv); i += 2 {
		form.Set(kv[i], kv[i+1])
	}
	req, err := http.NewRequest(http.MethodPost, p.URL+"/", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	return do(req)
}

func do(req *http.Request) (*http.Response, string, error) {
	// A fresh transport per request: a dropped connection must not affect the next request.
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

func TestForwardsUntouched(t *testing.T) {
	b := newBackend(t)
	p := newProxy(t, b.URL, faultproxy.Options{})
	resp, body, err := query(t, p, "GetUser", "UserName", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("X-Backend") != "yes" || !strings.Contains(body, "UserName=alice") {
		t.Errorf("got %d %q headers %v", resp.StatusCode, body, resp.Header)
	}
	if s := p.Stats(); s.Requests != 1 || s.Forwarded != 1 || s.Matched != 1 || s.Throttled+s.ServerErrors+s.DroppedBefore+s.DroppedAfter != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestErrorResponses(t *testing.T) {
	tests := []struct {
		name       string
		opts       faultproxy.Options
		target, ct string
		status     int
		errType    string
		body       string
	}{
		{"query throttling", faultproxy.Options{Throttle: 1}, "", "application/x-www-form-urlencoded", 400, "",
			"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>faultproxy-00000001-0000-0000-0000-000000000000</RequestId></ErrorResponse>"},
		{"query internal failure", faultproxy.Options{ServerError: 1}, "", "application/x-www-form-urlencoded", 500, "",
			"<ErrorResponse><Error><Type>Receiver</Type><Code>InternalFailure</Code><Message>We encountered an internal error. Please try again.</Message></Error><RequestId>faultproxy-00000001-0000-0000-0000-000000000000</RequestId></ErrorResponse>"},
		{"dynamodb throttling", faultproxy.Options{Throttle: 1}, "DynamoDB_20120810.GetItem", "application/x-amz-json-1.0", 400, "ThrottlingException",
			`{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Rate exceeded"}`},
		{"ssm throttling", faultproxy.Options{Throttle: 1}, "AmazonSSM.GetParameter", "application/x-amz-json-1.1", 400, "ThrottlingException",
			`{"__type":"com.amazonaws.ssm#ThrottlingException","message":"Rate exceeded"}`},
		{"unknown json service", faultproxy.Options{ServerError: 1}, "Other_2020.Do", "application/x-amz-json-1.1", 500, "InternalFailure",
			`{"__type":"InternalFailure","message":"We encountered an internal error. Please try again."}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBackend(t)
			p := newProxy(t, b.URL, tc.opts)
			req, _ := http.NewRequest(http.MethodPost, p.URL+"/", strings.NewReader(`Action=GetUser&Version=2010-05-08`))
			req.Header.Set("Content-Type", tc.ct)
			if tc.target != "" {
				req.Header.Set("X-Amz-Target", tc.target)
			}
			resp, body, err := do(req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status || body != tc.body {
				t.Errorf("got %d %s, want %d %s", resp.StatusCode, body, tc.status, tc.body)
			}
			if got := resp.Header.Get("X-Amzn-ErrorType"); got != tc.errType {
				t.Errorf("X-Amzn-ErrorType = %q, want %q", got, tc.errType)
			}
			if tc.target != "" && resp.Header.Get("Content-Type") != tc.ct {
				t.Errorf("Content-Type = %q, want %q", resp.Header.Get("Content-Type"), tc.ct)
			}
			if resp.Header.Get("X-Amzn-RequestId") == "" {
				t.Errorf("no request ID header")
			}
			if b.hits.Load() != 0 {
				t.Errorf("the target received the failed request")
			}
		})
	}
}

func TestDrops(t *testing.T) {
	tests := []struct {
		name     string
		opts     faultproxy.Options
		wantHits int64
	}{
		{"before forwarding", faultproxy.Options{DropBefore: 1}, 0},
		{"after forwarding", faultproxy.Options{DropAfter: 1}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBackend(t)
			p := newProxy(t, b.URL, tc.opts)
			if resp, _, err := query(t, p, "DeleteLoginProfile", "UserName", "alice"); err == nil {
				t.Fatalf("got %d, want a connection error", resp.StatusCode)
			}
			if got := b.hits.Load(); got != tc.wantHits {
				t.Errorf("target received %d requests, want %d", got, tc.wantHits)
			}
			s := p.Stats()
			if s.DroppedBefore+s.DroppedAfter != 1 || s.Forwarded != int(tc.wantHits) {
				t.Errorf("stats %+v", s)
			}
		})
	}
}

func TestMaxFaultsPerRequestKey(t *testing.T) {
	b := newBackend(t)
	p := newProxy(t, b.URL, faultproxy.Options{Throttle: 1, MaxFaultsPerRequestKey: 2})
	var got []int
	for range 6 {
		resp, _, err := query(t, p, "DeleteLoginProfile", "UserName", "alice")
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, resp.StatusCode)
	}
	// Another body is another key with its own count.
	resp, _, err := query(t, p, "DeleteLoginProfile", "UserName", "bob")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, resp.StatusCode)
	if want := []int{400, 400, 200, 400, 400, 200, 400}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("statuses %v, want %v", got, want)
	}
	if s := p.Stats(); s.Throttled != 5 || s.Spared != 2 || s.Forwarded != 2 {
		t.Errorf("stats %+v", s)
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		name  string
		match func(*http.Request) bool
		want  map[string]bool // action -> faulted
	}{
		{"actions", faultproxy.Actions("DeleteLoginProfile", "UpdateAccessKey"),
			map[string]bool{"DeleteLoginProfile": true, "UpdateAccessKey": true, "GetUser": false, "CreateUser": false}},
		{"mutating", faultproxy.Mutating,
			map[string]bool{"DeleteLoginProfile": true, "CreateUser": true, "GetUser": false, "ListUsers": false, "GenerateCredentialReport": false}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBackend(t)
			p := newProxy(t, b.URL, faultproxy.Options{Throttle: 1, Match: tc.match})
			for action, faulted := range tc.want {
				resp, _, err := query(t, p, action, "UserName", "alice")
				if err != nil {
					t.Fatal(err)
				}
				if (resp.StatusCode == 400) != faulted {
					t.Errorf("%s: status %d, faulted want %v", action, resp.StatusCode, faulted)
				}
			}
			if s := p.Stats(); s.Requests != len(tc.want) || s.Throttled != s.Matched {
				t.Errorf("stats %+v", s)
			}
			// The target still received the bodies intact after Match read them.
			for _, op := range b.seen {
				if _, ok := tc.want[op]; !ok {
					t.Errorf("target received operation %q", op)
				}
			}
		})
	}
}

func TestOperation(t *testing.T) {
	h := http.Header{}
	if got := faultproxy.Operation(h, []byte("Action=UpdateAccessKey&Status=Inactive")); got != "UpdateAccessKey" {
		t.Errorf("query Operation = %q", got)
	}
	h.Set("X-Amz-Target", "AmazonSSM.GetParameter")
	if got := faultproxy.Operation(h, []byte(`{"Name":"x"}`)); got != "GetParameter" {
		t.Errorf("json Operation = %q", got)
	}
}

// mixed gives every kind of fault a share.
var mixed = faultproxy.Options{Throttle: 0.15, ServerError: 0.15, DropBefore: 0.1, DropAfter: 0.1, Latency: 0.3, MaxLatency: time.Millisecond}

// outcomes sends n distinct requests, each twice, one after the other.
func outcomes(t *testing.T, o faultproxy.Options, n int) *faultproxy.Proxy {
	t.Helper()
	b := newBackend(t)
	p := newProxy(t, b.URL, o)
	for i := range n {
		for range 2 {
			_, _, _ = query(t, p, "TagUser", "UserName", fmt.Sprintf("user-%03d", i))
		}
	}
	return p
}

func TestSameSeedSameFaults(t *testing.T) {
	o := mixed
	o.Seed = 42
	a := outcomes(t, o, 100)
	b := outcomes(t, o, 100)
	ra, rb := a.Records(), b.Records()
	if len(ra) != 200 || fmt.Sprint(ra) != fmt.Sprint(rb) {
		t.Errorf("same seed, different sequences:\n%v\n%v", ra, rb)
	}
	counts := map[faultproxy.Fault]int{}
	delayed := 0
	for _, r := range ra {
		counts[r.Fault]++
		if r.Delay > 0 {
			delayed++
			if r.Delay > time.Millisecond {
				t.Errorf("delay %s over the bound", r.Delay)
			}
		}
	}
	// 200 draws: each kind must show up and stay near its probability.
	for f, p := range map[faultproxy.Fault]float64{faultproxy.Throttle: .15, faultproxy.ServerError: .15, faultproxy.DropBefore: .1, faultproxy.DropAfter: .1, faultproxy.None: .5} {
		if got := float64(counts[f]) / 200; got < p/2 || got > p*1.5 {
			t.Errorf("%s: %d of 200", f, counts[f])
		}
	}
	s := a.Stats()
	if s.Throttled != counts[faultproxy.Throttle] || s.ServerErrors != counts[faultproxy.ServerError] ||
		s.DroppedBefore != counts[faultproxy.DropBefore] || s.DroppedAfter != counts[faultproxy.DropAfter] || s.Delayed != delayed {
		t.Errorf("stats %+v disagree with records %v (%d delayed)", s, counts, delayed)
	}

	o.Seed = 43
	c := outcomes(t, o, 100)
	if fmt.Sprint(c.Records()) == fmt.Sprint(ra) {
		t.Errorf("another seed gave the same sequence")
	}
}

// TestFaultsIndependentOfArrivalOrder: concurrent requests get the faults they get when sent
// one by one, because the generator is seeded per request.
func TestFaultsIndependentOfArrivalOrder(t *testing.T) {
	o := mixed
	o.Seed, o.Latency = 7, 0
	seq := perBody(t, o, false)
	con := perBody(t, o, true)
	if fmt.Sprint(seq) != fmt.Sprint(con) {
		t.Errorf("faults depend on arrival order:\n%v\n%v", seq, con)
	}
}

// perBody sends 50 distinct requests twice each and returns the faults per user name.
func perBody(t *testing.T, o faultproxy.Options, concurrent bool) map[string][]string {
	t.Helper()
	b := newBackend(t)
	p := newProxy(t, b.URL, o)
	var mu sync.Mutex
	faults := map[string][]string{}
	for i := range 50 {
		faults[fmt.Sprintf("user-%03d", i)] = make([]string, 2)
	}
	var wg sync.WaitGroup
	for i := range 50 {
		user := fmt.Sprintf("user-%03d", i)
		send := func() {
			for k := range 2 {
				resp, _, err := query(t, p, "TagUser", "UserName", user)
				outcome := "error"
				if err == nil {
					outcome = fmt.Sprint(resp.StatusCode)
				}
				mu.Lock()
				faults[user][k] = outcome
				mu.Unlock()
			}
		}
		if concurrent {
			wg.Go(send)
		} else {
			send()
		}
	}
	wg.Wait()
	return faults
}

func TestLatencyIsBoundedAndObserved(t *testing.T) {
	b := newBackend(t)
	p := newProxy(t, b.URL, faultproxy.Options{Seed: 1, Latency: 1, MaxLatency: 3 * time.Millisecond})
	for i := range 5 {
		start := time.Now()
		if _, _, err := query(t, p, "GetUser", "UserName", fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
		elapsed := time.Since(start)
		r := p.Records()[i]
		if r.Delay <= 0 || r.Delay > 3*time.Millisecond {
			t.Errorf("delay %s outside (0, 3ms]", r.Delay)
		}
		if elapsed < r.Delay {
			t.Errorf("request took %s, less than its delay %s", elapsed, r.Delay)
		}
	}
	if s := p.Stats(); s.Delayed != 5 || s.Forwarded != 5 {
		t.Errorf("stats %+v", s)
	}
}

func TestInvalidOptionsPanic(t *testing.T) {
	tests := []faultproxy.Options{
		{Throttle: 0.6, DropAfter: 0.5},
		{ServerError: -0.1},
		{Latency: 1.5},
		{Latency: 1, MaxLatency: time.Second},
		{MaxFaultsPerRequestKey: -1},
	}
	for _, o := range tests {
		t.Run(fmt.Sprintf("%+v", o), func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("New(%+v) did not panic", o)
				}
			}()
			p := faultproxy.New("http://127.0.0.1:1", o)
			p.Close()
		})
	}
}
