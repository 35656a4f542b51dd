// Package runtimeapi is a Lambda Runtime API server for tests: it plays the Lambda service to a
// real bootstrap binary (built with -tags lambda.norpc) so the function can be invoked end to
// end without AWS.
//
// It serves the runtime's HTTP interface as aws-lambda-go v1.55.1's runtime client uses it:
//
//	GET  /2018-06-01/runtime/invocation/next          blocks until an invocation is queued
//	POST /2018-06-01/runtime/invocation/{id}/response 202; the body is the function's result
//	POST /2018-06-01/runtime/invocation/{id}/error    202; the body is {"errorMessage","errorType",...}
//	POST /2018-06-01/runtime/init/error               202; recorded for InitError
//	POST /2020-01-01/extension/register               200 (lambda.WithEnableSIGTERM registers)
//	GET  /2020-01-01/extension/event/next             blocks until the server closes
//
// /next answers with the headers the client reads: Lambda-Runtime-Aws-Request-Id,
// Lambda-Runtime-Deadline-Ms, Lambda-Runtime-Invoked-Function-Arn and Lambda-Runtime-Trace-Id.
// Any other status than 200 on /next, or 202 on a post, makes aws-lambda-go exit the process,
// so closing the server ends the bootstraps that poll it.
package runtimeapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Header and trailer names of the Runtime API.
const (
	HeaderRequestID          = "Lambda-Runtime-Aws-Request-Id"
	HeaderDeadlineMS         = "Lambda-Runtime-Deadline-Ms"
	HeaderInvokedFunctionARN = "Lambda-Runtime-Invoked-Function-Arn"
	HeaderTraceID            = "Lambda-Runtime-Trace-Id"
	// aws-lambda-go sends these as trailers of a response whose body failed while streaming.
	trailerErrorType = "Lambda-Runtime-Function-Error-Type"
	trailerErrorBody = "Lambda-Runtime-Function-Error-Body"

	headerExtensionName       = "Lambda-Extension-Name"
	headerExtensionIdentifier = "Lambda-Extension-Identifier"
)

// ErrClosed is returned by Invoke when the server closes before the invocation completes.
var ErrClosed = errors.New("runtimeapi: server closed")

// Options configure a Server. The zero value is usable.
type Options struct {
	// FunctionName is used for the default FunctionARN and by Environ; default "iamwarden".
	FunctionName string
	// FunctionARN is sent as Lambda-Runtime-Invoked-Function-Arn; default
	// arn:aws:lambda:us-east-1:123456789012:function:<FunctionName>.
	FunctionARN string
	// Timeout sets an invocation's deadline when Invoke's context has none; default 1 minute.
	Timeout time.Duration
}

// ErrorBody is what the function posts to /error (aws-lambda-go's InvokeResponse_Error) or to
// /init/error.
type ErrorBody struct {
	Message    string          `json:"errorMessage"`
	Type       string          `json:"errorType"`
	StackTrace json.RawMessage `json:"stackTrace,omitempty"`
}

func (e *ErrorBody) Error() string { return e.Type + ": " + e.Message }

// Response is how one invocation ended.
type Response struct {
	RequestID   string
	Body        []byte     // the /response body; nil when the function failed
	ContentType string     // Content-Type of the post
	Err         *ErrorBody // set when the function posted to /error or its response stream failed
}

// Server is a Lambda Runtime API on a loopback port.
type Server struct {
	opts Options
	ln   net.Listener
	http *http.Server

	queue  chan *invocation // unbuffered: /next takes one invocation per Invoke
	closed chan struct{}
	once   sync.Once

	mu       sync.Mutex
	inflight map[string]*invocation // handed to a bootstrap, no response yet
	initErr  *ErrorBody
	initCh   chan struct{} // closed at the first init error
	nextID   int
}

type invocation struct {
	id       string
	payload  []byte
	deadline time.Time
	traceID  string
	done     chan Response // buffered 1: the poster never blocks on an abandoned Invoke
}

// New starts a Server on 127.0.0.1 and closes it when the test ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	s, err := Listen(opts)
	if err != nil {
		t.Fatalf("runtimeapi: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// Listen starts a Server on a free port of 127.0.0.1; the caller closes it.
func Listen(opts Options) (*Server, error) {
	if opts.FunctionName == "" {
		opts.FunctionName = "iamwarden"
	}
	if opts.FunctionARN == "" {
		opts.FunctionARN = "arn:aws:lambda:us-east-1:123456789012:function:" + opts.FunctionName
	}
	if opts.Timeout <= 0 {
		opts.Timeout = time.Minute
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	s := &Server{
		opts:     opts,
		ln:       ln,
		queue:    make(chan *invocation),
		closed:   make(chan struct{}),
		inflight: map[string]*invocation{},
		initCh:   make(chan struct{}),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", s.next)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", s.response)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", s.invocationError)
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", s.initError)
	mux.HandleFunc("POST /2020-01-01/extension/register", s.extensionRegister)
	mux.HandleFunc("GET /2020-01-01/extension/event/next", s.extensionNext)
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go s.http.Serve(ln) //nolint:errcheck // Serve returns ErrServerClosed after Close
	return s, nil
}

// Addr is the server's host:port, the value of AWS_LAMBDA_RUNTIME_API.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// FunctionARN is the ARN sent with every invocation.
func (s *Server) FunctionARN() string { return s.opts.FunctionARN }

// Environ returns the environment the Lambda service gives a provided.al2023 function pointed
// at this server. AWS_LAMBDA_RUNTIME_API is the one aws-lambda-go needs (built with
// lambda.norpc it never reads _LAMBDA_SERVER_PORT); lambdacontext reads the function name,
// version, memory size and log group and stream.
func (s *Server) Environ() []string {
	return []string{
		"AWS_LAMBDA_RUNTIME_API=" + s.Addr(),
		"AWS_LAMBDA_FUNCTION_NAME=" + s.opts.FunctionName,
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128",
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/" + s.opts.FunctionName,
		"AWS_LAMBDA_LOG_STREAM_NAME=2026/12/01/[$LATEST]0123456789abcdef0123456789abcdef",
		"AWS_LAMBDA_INITIALIZATION_TYPE=on-demand",
		"AWS_EXECUTION_ENV=AWS_Lambda_provided.al2023",
		"AWS_REGION=us-east-1",
		"AWS_DEFAULT_REGION=us-east-1",
		"_HANDLER=bootstrap",
		"TZ=:UTC",
		"LANG=en_US.UTF-8",
	}
}

// Invoke queues one invocation with payload and blocks until a bootstrap posts its response or
// error, ctx ends, or the server closes. A function error is not an error of Invoke: it is
// Response.Err. Invocations may run concurrently; each /next takes one.
//
// The invocation's deadline (Lambda-Runtime-Deadline-Ms) is ctx's deadline, else now plus
// Options.Timeout. Since a bootstrap that dies mid-invocation never answers, give ctx a
// deadline or select on Process.Exited.
func (s *Server) Invoke(ctx context.Context, payload []byte) (Response, error) {
	inv := &invocation{
		id:      s.newRequestID(),
		payload: bytes.Clone(payload),
		traceID: newTraceID(),
		done:    make(chan Response, 1),
	}
	if d, ok := ctx.Deadline(); ok {
		inv.deadline = d
	} else {
		inv.deadline = time.Now().Add(s.opts.Timeout)
	}
	select {
	case s.queue <- inv:
	case <-ctx.Done():
		return Response{RequestID: inv.id}, ctx.Err()
	case <-s.closed:
		return Response{RequestID: inv.id}, ErrClosed
	}
	select {
	case r := <-inv.done:
		return r, nil
	case <-ctx.Done():
		return Response{RequestID: inv.id}, ctx.Err()
	case <-s.closed:
		return Response{RequestID: inv.id}, ErrClosed
	}
}

// InitError returns what a bootstrap posted to /init/error, or nil.
func (s *Server) InitError() *ErrorBody {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.initErr
}

// InitErrorPosted is closed when a bootstrap first posts to /init/error.
func (s *Server) InitErrorPosted() <-chan struct{} { return s.initCh }

// Close stops the server: pending and future Invokes return ErrClosed, and bootstraps waiting
// on /next get an error status and exit.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.closed)
		s.http.Close()
	})
}

func (s *Server) newRequestID() string {
	s.mu.Lock()
	s.nextID++
	n := s.nextID
	s.mu.Unlock()
	var b [6]byte
	_, _ = rand.Read(b[:])
	// The shape of a Lambda request ID (a UUID), numbered for readable test logs.
	return fmt.Sprintf("%08x-0000-4000-8000-%s", n, hex.EncodeToString(b[:]))
}

func newTraceID() string {
	var root [12]byte
	var parent [8]byte
	_, _ = rand.Read(root[:])
	_, _ = rand.Read(parent[:])
	return fmt.Sprintf("Root=1-%08x-%s;Parent=%s;Sampled=0;Lineage=1:0a1b2c3d:0",
		time.Now().Unix(), hex.EncodeToString(root[:]), hex.EncodeToString(parent[:]))
}

func (s *Server) next(w http.ResponseWriter, r *http.Request) {
	var inv *invocation
	select {
	case inv = <-s.queue:
	case <-s.closed:
		http.Error(w, `{"errorMessage":"runtime API closed","errorType":"Runtime.Closed"}`,
			http.StatusGone)
		return
	case <-r.Context().Done():
		return
	}
	s.mu.Lock()
	s.inflight[inv.id] = inv
	s.mu.Unlock()
	h := w.Header()
	h.Set(HeaderRequestID, inv.id)
	h.Set(HeaderDeadlineMS, strconv.FormatInt(inv.deadline.UnixMilli(), 10))
	h.Set(HeaderInvokedFunctionARN, s.opts.FunctionARN)
	h.Set(HeaderTraceID, inv.traceID)
	h.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(inv.payload)
}

// take removes and returns the in-flight invocation a post is about.
func (s *Server) take(w http.ResponseWriter, r *http.Request) (*invocation, bool) {
	id := r.PathValue("id")
	s.mu.Lock()
	inv, ok := s.inflight[id]
	delete(s.inflight, id)
	s.mu.Unlock()
	if !ok {
		http.Error(w, `{"errorMessage":"no invocation in flight with ID `+strconv.Quote(id)+`","errorType":"InvalidRequestID"}`,
			http.StatusBadRequest)
	}
	return inv, ok
}

func (s *Server) response(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	inv, ok := s.take(w, r)
	if !ok {
		return
	}
	resp := Response{RequestID: inv.id, Body: body, ContentType: r.Header.Get("Content-Type")}
	// A response body that failed while streaming is reported in trailers (read once the body
	// has been read to its end).
	if typ := r.Trailer.Get(trailerErrorType); typ != "" {
		resp.Body = nil
		resp.Err = &ErrorBody{Type: typ}
		if raw, err := base64.StdEncoding.DecodeString(r.Trailer.Get(trailerErrorBody)); err == nil {
			_ = json.Unmarshal(raw, resp.Err)
		}
	}
	inv.done <- resp
	accepted(w)
}

func (s *Server) invocationError(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	inv, ok := s.take(w, r)
	if !ok {
		return
	}
	inv.done <- Response{RequestID: inv.id, ContentType: r.Header.Get("Content-Type"),
		Err: parseErrorBody(body)}
	accepted(w)
}

func (s *Server) initError(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	e := parseErrorBody(body)
	if e.Type == "" {
		e.Type = r.Header.Get(trailerErrorType)
	}
	s.mu.Lock()
	if s.initErr == nil {
		s.initErr = e
		close(s.initCh)
	}
	s.mu.Unlock()
	accepted(w)
}

// parseErrorBody reads an error post; a body that is not the JSON error document is kept
// whole as the message.
func parseErrorBody(body []byte) *ErrorBody {
	var e ErrorBody
	if err := json.Unmarshal(body, &e); err != nil {
		return &ErrorBody{Message: string(body), Type: "Runtime.InvalidErrorBody"}
	}
	return &e
}

func accepted(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, `{"status":"OK"}`)
}

func (s *Server) extensionRegister(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	w.Header().Set(headerExtensionIdentifier, "ext-"+r.Header.Get(headerExtensionName))
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{
		"functionName":    s.opts.FunctionName,
		"functionVersion": "$LATEST",
		"handler":         "bootstrap",
	})
}

// extensionNext never delivers an event: aws-lambda-go's SIGTERM extension registers for none
// and parks a goroutine here.
func (s *Server) extensionNext(w http.ResponseWriter, r *http.Request) {
	select {
	case <-s.closed:
	case <-r.Context().Done():
	}
}
