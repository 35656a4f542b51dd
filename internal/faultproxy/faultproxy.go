// Package faultproxy is a reverse proxy for tests that sits between an AWS SDK client and a
// fake AWS endpoint (moto) and injects faults: throttling errors, internal errors, latency, and
// connections dropped before or after the request reached the endpoint. Faults are chosen by a
// seeded math/rand/v2 generator from the seed, the request and how often that identical request
// was seen, so the same seed and the same requests give the same faults, whatever the timing.
//
// It is meant for tests only: it reads whole bodies into memory and forwards to one target.
package faultproxy

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Fault is what the proxy did to a request.
type Fault int

const (
	// None: the request was forwarded and its answer returned.
	None Fault = iota
	// Throttle: answered with AWS's throttling error without forwarding.
	Throttle
	// ServerError: answered with HTTP 500 InternalFailure without forwarding.
	ServerError
	// DropBefore: the connection was closed without forwarding and without an answer.
	DropBefore
	// DropAfter: the request was forwarded (the endpoint acted on it), then the connection was
	// closed without returning the answer.
	DropAfter
)

// String names the fault.
func (f Fault) String() string {
	switch f {
	case None:
		return "none"
	case Throttle:
		return "throttle"
	case ServerError:
		return "server-error"
	case DropBefore:
		return "drop-before"
	case DropAfter:
		return "drop-after"
	default:
		return fmt.Sprintf("fault(%d)", int(f))
	}
}

// MaxLatencyLimit bounds Options.MaxLatency: added latency must stay small in tests.
const MaxLatencyLimit = 100 * time.Millisecond

// defaultMaxLatency is the latency bound when Options.Latency is set without MaxLatency.
const defaultMaxLatency = time.Millisecond

// Options configures the faults. The probabilities of the four failures (Throttle,
// ServerError, DropBefore, DropAfter) are exclusive and must add up to at most 1; Latency is
// drawn independently and may delay any request, failed or not.
type Options struct {
	// Seed makes the fault sequence reproducible.
	Seed uint64

	Throttle    float64
	ServerError float64
	DropBefore  float64
	DropAfter   float64

	// Latency is the probability of delaying a request by up to MaxLatency (default 1ms,
	// at most MaxLatencyLimit).
	Latency    float64
	MaxLatency time.Duration

	// Match selects the requests that may receive faults; nil selects all. The request's body
	// can be read (it is a copy).
	Match func(*http.Request) bool

	// MaxFaultsPerRequestKey bounds the consecutive failures of identical requests (same
	// method, path, X-Amz-Target and body): once reached, the next identical request is
	// forwarded untouched, so a client retrying with the same request eventually passes.
	// Zero means no bound.
	MaxFaultsPerRequestKey int
}

func (o Options) validate() error {
	sum := 0.0
	for _, p := range []struct {
		name string
		v    float64
	}{{"Throttle", o.Throttle}, {"ServerError", o.ServerError}, {"DropBefore", o.DropBefore}, {"DropAfter", o.DropAfter}, {"Latency", o.Latency}} {
		if p.v < 0 || p.v > 1 {
			return fmt.Errorf("%s probability %v is outside [0, 1]", p.name, p.v)
		}
		if p.name != "Latency" {
			sum += p.v
		}
	}
	if sum > 1+1e-9 {
		return fmt.Errorf("failure probabilities add up to %v, more than 1", sum)
	}
	if o.MaxLatency < 0 || o.MaxLatency > MaxLatencyLimit {
		return fmt.Errorf("max latency %s is outside [0, %s]", o.MaxLatency, MaxLatencyLimit)
	}
	if o.MaxFaultsPerRequestKey < 0 {
		return fmt.Errorf("max faults per request key %d is negative", o.MaxFaultsPerRequestKey)
	}
	return nil
}

// Stats counts what the proxy did.
type Stats struct {
	Requests      int // requests received
	Matched       int // requests selected by Match
	Forwarded     int // requests sent to the target (including DroppedAfter)
	Throttled     int
	ServerErrors  int
	DroppedBefore int
	DroppedAfter  int
	Delayed       int // requests given added latency
	Spared        int // failures not injected because MaxFaultsPerRequestKey was reached
}

// Record is what happened to one request, in arrival order.
type Record struct {
	Seq       int
	Operation string // the Query Action or the X-Amz-Target operation
	Fault     Fault
	Delay     time.Duration
}

// Proxy is a running fault-injecting proxy.
type Proxy struct {
	// URL is the proxy's base URL, to be used as the SDK's BaseEndpoint.
	URL string

	srv       *httptest.Server
	target    *url.URL
	transport *http.Transport
	client    *http.Client
	opts      Options

	mu      sync.Mutex
	keys    map[[32]byte]*keyState
	stats   Stats
	records []Record
}

type keyState struct {
	seen        uint64 // requests with this key so far
	consecutive int    // failures injected in a row
}

// New starts a proxy forwarding to target (a base URL such as moto's endpoint). It panics on
// an invalid target or options, which are programming errors in a test.
func New(target string, opts Options) *Proxy {
	u, err := url.Parse(target)
	if err != nil || u.Scheme == "" || u.Host == "" {
		panic(fmt.Sprintf("faultproxy: invalid target %q", target))
	}
	if err := opts.validate(); err != nil {
		panic("faultproxy: " + err.Error())
	}
	if opts.Latency > 0 && opts.MaxLatency == 0 {
		opts.MaxLatency = defaultMaxLatency
	}
	tr := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 16}
	p := &Proxy{
		target:    u,
		transport: tr,
		client: &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}},
		opts: opts,
		keys: map[[32]byte]*keyState{},
	}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	p.URL = p.srv.URL
	return p
}

// Close stops the proxy.
func (p *Proxy) Close() {
	p.srv.Close()
	p.transport.CloseIdleConnections()
}

// Stats returns the counters so far.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// Records returns what happened to each request so far, in arrival order.
func (p *Proxy) Records() []Record {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Record(nil), p.records...)
}

// Faults returns the faults injected so far (None excluded), in arrival order.
func (p *Proxy) Faults() []Record {
	var out []Record
	for _, r := range p.Records() {
		if r.Fault != None {
			out = append(out, r)
		}
	}
	return out
}

// decision is what to do with one request.
type decision struct {
	fault Fault
	delay time.Duration
	seq   int
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "faultproxy: read request: "+err.Error(), http.StatusBadRequest)
		return
	}
	op := Operation(r.Header, body)
	matched := p.opts.Match == nil || p.opts.Match(withBody(r, body))
	d := p.decide(requestKey(r, body), matched, op)

	if d.delay > 0 {
		t := time.NewTimer(d.delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	switch d.fault {
	case Throttle:
		writeError(w, r, http.StatusBadRequest, "Sender", "Throttling", "ThrottlingException", "Rate exceeded", d.seq)
		return
	case ServerError:
		writeError(w, r, http.StatusInternalServerError, "Receiver", "InternalFailure", "InternalFailure",
			"We encountered an internal error. Please try again.", d.seq)
		return
	case DropBefore:
		drop(w)
		return
	}

	resp, respBody, err := p.forward(r, body)
	if err != nil {
		http.Error(w, "faultproxy: forward: "+err.Error(), http.StatusBadGateway)
		return
	}
	if d.fault == DropAfter {
		drop(w)
		return
	}
	for k, vs := range resp.Header {
		if !hopByHop(k) && k != "Content-Length" {
			w.Header()[k] = vs
		}
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(respBody)))
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(respBody)
}

// decide draws the fault and delay of a request and updates the counters. The generator is
// seeded with the proxy's seed, the request key and the key's occurrence, so decisions do not
// depend on the order in which concurrent requests arrive.
func (p *Proxy) decide(key [32]byte, matched bool, op string) decision {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats.Requests++
	d := decision{seq: p.stats.Requests}
	if matched {
		p.stats.Matched++
		st := p.keys[key]
		if st == nil {
			st = &keyState{}
			p.keys[key] = st
		}
		stream := binary.LittleEndian.Uint64(key[:8]) ^ (st.seen * 0x9e3779b97f4a7c15)
		st.seen++
		rng := rand.New(rand.NewPCG(p.opts.Seed, stream))
		u, l, lat := rng.Float64(), rng.Float64(), rng.Int64N(int64(p.opts.MaxLatency)+1)
		o := p.opts
		switch {
		case u < o.Throttle:
			d.fault = Throttle
		case u < o.Throttle+o.ServerError:
			d.fault = ServerError
		case u < o.Throttle+o.ServerError+o.DropBefore:
			d.fault = DropBefore
		case u < o.Throttle+o.ServerError+o.DropBefore+o.DropAfter:
			d.fault = DropAfter
		}
		if d.fault != None && o.MaxFaultsPerRequestKey > 0 && st.consecutive >= o.MaxFaultsPerRequestKey {
			d.fault = None
			p.stats.Spared++
		}
		if d.fault != None {
			st.consecutive++
		} else {
			st.consecutive = 0
		}
		if l < o.Latency && lat > 0 {
			d.delay = time.Duration(lat)
			p.stats.Delayed++
		}
	}
	switch d.fault {
	case Throttle:
		p.stats.Throttled++
	case ServerError:
		p.stats.ServerErrors++
	case DropBefore:
		p.stats.DroppedBefore++
	case DropAfter:
		p.stats.DroppedAfter++
	}
	if d.fault == None || d.fault == DropAfter {
		p.stats.Forwarded++
	}
	p.records = append(p.records, Record{Seq: d.seq, Operation: op, Fault: d.fault, Delay: d.delay})
	return d
}

// requestKey identifies identical requests: same method, path, query, target and body.
func requestKey(r *http.Request, body []byte) [32]byte {
	h := sha256.New()
	for _, part := range []string{r.Method, r.URL.RequestURI(), r.Header.Get("X-Amz-Target")} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	h.Write(body)
	var k [32]byte
	copy(k[:], h.Sum(nil))
	return k
}

// withBody is a copy of r whose body reads body.
func withBody(r *http.Request, body []byte) *http.Request {
	c := r.Clone(r.Context())
	c.Body = io.NopCloser(bytes.NewReader(body))
	c.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	c.ContentLength = int64(len(body))
	return c
}

func (p *Proxy) forward(r *http.Request, body []byte) (*http.Response, []byte, error) {
	u := *p.target
	u.Path = strings.TrimSuffix(u.Path, "/") + r.URL.Path
	u.RawPath = ""
	u.RawQuery = r.URL.RawQuery
	out, err := http.NewRequestWithContext(r.Context(), r.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	for k, vs := range r.Header {
		if !hopByHop(k) {
			out.Header[k] = vs
		}
	}
	// Keep the Host the client signed.
	out.Host = r.Host
	resp, err := p.client.Do(out)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, err
	}
	return resp, b, nil
}

func hopByHop(name string) bool {
	switch http.CanonicalHeaderKey(name) {
	case "Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Connection",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// drop closes the client's connection without an answer.
func drop(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("faultproxy: the response writer cannot be hijacked")
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	_ = conn.Close()
}

// isJSON reports whether the request uses one of AWS's JSON protocols (DynamoDB, SSM...), whose
// errors are JSON, rather than the Query protocol (IAM, STS, SNS...), whose errors are XML.
func isJSON(h http.Header) bool {
	return h.Get("X-Amz-Target") != "" || strings.HasPrefix(h.Get("Content-Type"), "application/x-amz-json")
}

// jsonNamespaces maps X-Amz-Target prefixes to the namespace of their error types.
var jsonNamespaces = map[string]string{
	"DynamoDB_20120810":         "com.amazonaws.dynamodb.v20120810",
	"AmazonSSM":                 "com.amazonaws.ssm",
	"AWSOrganizationsV20161128": "com.amazonaws.organizations.v20161128",
}

func writeError(w http.ResponseWriter, r *http.Request, status int, xmlType, queryCode, jsonCode, msg string, seq int) {
	requestID := fmt.Sprintf("faultproxy-%08d-0000-0000-0000-000000000000", seq)
	w.Header().Set("X-Amzn-Requestid", requestID)
	if isJSON(r.Header) {
		typ := jsonCode
		prefix, _, _ := strings.Cut(r.Header.Get("X-Amz-Target"), ".")
		if ns, ok := jsonNamespaces[prefix]; ok {
			typ = ns + "#" + jsonCode
		}
		ct := r.Header.Get("Content-Type")
		if !strings.HasPrefix(ct, "application/x-amz-json") {
			ct = "application/x-amz-json-1.0"
		}
		w.Header().Set("Content-Type", ct)
		w.Header().Set("X-Amzn-Errortype", jsonCode)
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"__type":%q,"message":%q}`, typ, msg)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<ErrorResponse><Error><Type>%s</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>",
		xmlType, queryCode, msg, requestID)
}
