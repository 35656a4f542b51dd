package runtimeapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iamwarden/iamwarden/internal/lambdafn/runtimeapi"
)

// testContext bounds a test's waits on a bootstrap, so a broken one fails instead of hanging.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestEcho(t *testing.T) {
	bin := runtimeapi.BuildBootstrap(t, "./testdata/echo")
	srv := runtimeapi.New(t, runtimeapi.Options{})
	runtimeapi.Start(t, bin, srv, nil)
	ctx := testContext(t)

	seen := map[string]bool{}
	for _, payload := range []string{
		`{"iamwarden":{"kind":"sweep"}}`,
		`{}`,
		`[1,2,3]`,
		`"a string"`,
		`{"nested":{"unicode":"é✓","n":1.5e3}}`,
	} {
		t.Run(payload, func(t *testing.T) {
			resp, err := srv.Invoke(ctx, []byte(payload))
			if err != nil {
				t.Fatalf("Invoke: %v", err)
			}
			if resp.Err != nil {
				t.Fatalf("function error: %+v", resp.Err)
			}
			if string(resp.Body) != payload {
				t.Errorf("body %s, want %s", resp.Body, payload)
			}
			if resp.RequestID == "" || seen[resp.RequestID] {
				t.Errorf("request ID %q empty or reused", resp.RequestID)
			}
			seen[resp.RequestID] = true
		})
	}
}

func TestFunctionError(t *testing.T) {
	bin := runtimeapi.BuildBootstrap(t, "./testdata/fail")
	srv := runtimeapi.New(t, runtimeapi.Options{})
	p := runtimeapi.Start(t, bin, srv, nil)
	ctx := testContext(t)

	for _, in := range []string{"a", "b"} {
		resp, err := srv.Invoke(ctx, []byte(`"`+in+`"`))
		if err != nil {
			t.Fatalf("Invoke: %v", err)
		}
		want := runtimeapi.ErrorBody{Message: "refused " + in, Type: "refusedError"}
		if resp.Err == nil || resp.Err.Message != want.Message || resp.Err.Type != want.Type {
			t.Errorf("error %+v, want %+v", resp.Err, want)
		}
		if resp.Body != nil {
			t.Errorf("body %q with an error", resp.Body)
		}
	}

	// A panic is reported with its stack, then aws-lambda-go exits the process.
	resp, err := srv.Invoke(ctx, []byte(`"panic"`))
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	if resp.Err == nil || resp.Err.Message != "asked to panic" || len(resp.Err.StackTrace) == 0 {
		t.Errorf("panic reported as %+v", resp.Err)
	}
	select {
	case <-p.Exited():
	case <-ctx.Done():
		t.Fatal("the process did not exit after a panic")
	}
	if p.Err() == nil {
		t.Error("the process exited 0 after a panic")
	}
	if !strings.Contains(p.Output(), "asked to panic") {
		t.Errorf("output does not log the panic:\n%s", p.Output())
	}
}

type invocationInfo struct {
	RequestID   string `json:"request_id"`
	FunctionARN string `json:"function_arn"`
	DeadlineMS  int64  `json:"deadline_ms"`
	TraceID     string `json:"trace_id"`
	Function    string `json:"function_name"`
	Region      string `json:"region"`
	Setting     string `json:"setting"`
	PID         int    `json:"pid"`
}

func invokeInfo(ctx context.Context, t *testing.T, srv *runtimeapi.Server, payload string) (invocationInfo, runtimeapi.Response) {
	t.Helper()
	resp, err := srv.Invoke(ctx, []byte(payload))
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	if resp.Err != nil {
		t.Fatalf("function error: %+v", resp.Err)
	}
	var info invocationInfo
	if err := json.Unmarshal(resp.Body, &info); err != nil {
		t.Fatalf("body %s: %v", resp.Body, err)
	}
	return info, resp
}

func TestInvocationContext(t *testing.T) {
	bin := runtimeapi.BuildBootstrap(t, "./testdata/lambdactx")
	srv := runtimeapi.New(t, runtimeapi.Options{FunctionName: "iamwarden-test"})
	p := runtimeapi.Start(t, bin, srv, []string{"IAMWARDEN_MODE=enforce", "AWS_REGION=eu-west-1"})

	deadline := time.Now().Add(40 * time.Second).Truncate(time.Millisecond)
	ctx, cancel := context.WithDeadline(t.Context(), deadline)
	defer cancel()
	info, resp := invokeInfo(ctx, t, srv, `{}`)
	want := invocationInfo{
		RequestID:   resp.RequestID,
		FunctionARN: "arn:aws:lambda:us-east-1:123456789012:function:iamwarden-test",
		DeadlineMS:  deadline.UnixMilli(),
		TraceID:     info.TraceID,
		Function:    "iamwarden-test",
		Region:      "eu-west-1",
		Setting:     "enforce",
		PID:         info.PID,
	}
	if info != want {
		t.Errorf("the function saw %+v, want %+v", info, want)
	}
	if srv.FunctionARN() != want.FunctionARN {
		t.Errorf("FunctionARN() = %s", srv.FunctionARN())
	}
	if !strings.HasPrefix(info.TraceID, "Root=1-") {
		t.Errorf("trace ID %q", info.TraceID)
	}
	if info.PID == 0 || resp.ContentType == "" {
		t.Errorf("pid %d, content type %q", info.PID, resp.ContentType)
	}

	// Without a context deadline, the invocation gets the server's timeout.
	before := time.Now()
	info, _ = invokeInfo(t.Context(), t, srv, `{}`)
	got := time.UnixMilli(info.DeadlineMS)
	if got.Before(before.Add(time.Minute-time.Second)) || got.After(time.Now().Add(time.Minute)) {
		t.Errorf("deadline %v, want a minute after %v", got, before)
	}
	if p.Err() != nil {
		t.Errorf("process: %v", p.Err())
	}
}

// TestConcurrentInvokes holds two invocations in flight at once, one in each of two processes:
// each function waits at a barrier that opens only when both have arrived.
func TestConcurrentInvokes(t *testing.T) {
	bin := runtimeapi.BuildBootstrap(t, "./testdata/lambdactx")
	srv := runtimeapi.New(t, runtimeapi.Options{})
	runtimeapi.Start(t, bin, srv, nil)
	runtimeapi.Start(t, bin, srv, nil)
	ctx := testContext(t)

	var arrived sync.WaitGroup
	arrived.Add(2)
	open := make(chan struct{})
	go func() { arrived.Wait(); close(open) }()
	barrier := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Done()
		select {
		case <-open:
		case <-r.Context().Done():
		}
	}))
	defer barrier.Close()

	payload := fmt.Sprintf(`{"barrier":%q}`, barrier.URL)
	infos := make([]invocationInfo, 2)
	var wg sync.WaitGroup
	for i := range infos {
		wg.Go(func() {
			resp, err := srv.Invoke(ctx, []byte(payload))
			if err != nil || resp.Err != nil {
				t.Errorf("Invoke: %v %+v", err, resp.Err)
				return
			}
			if err := json.Unmarshal(resp.Body, &infos[i]); err != nil {
				t.Errorf("body %s: %v", resp.Body, err)
			}
		})
	}
	wg.Wait()
	if infos[0].PID == infos[1].PID || infos[0].RequestID == infos[1].RequestID {
		t.Errorf("both invocations ran in one process or shared an ID: %+v", infos)
	}
}

func TestCloseEndsInvokesAndBootstraps(t *testing.T) {
	bin := runtimeapi.BuildBootstrap(t, "./testdata/echo")
	srv := runtimeapi.New(t, runtimeapi.Options{})
	ctx := testContext(t)

	// Queued with no bootstrap to take it.
	errc := make(chan error, 1)
	go func() {
		_, err := srv.Invoke(ctx, []byte(`{}`))
		errc <- err
	}()

	p := runtimeapi.Start(t, bin, srv, nil)
	if err := <-errc; err != nil {
		t.Fatalf("the queued Invoke: %v", err)
	}
	srv.Close()
	select {
	case <-p.Exited():
	case <-ctx.Done():
		t.Fatal("the bootstrap did not exit when the server closed")
	}
	if _, err := srv.Invoke(ctx, []byte(`{}`)); !errors.Is(err, runtimeapi.ErrClosed) {
		t.Errorf("Invoke after Close: %v, want ErrClosed", err)
	}
	srv.Close() // twice is fine
}

func TestInvokeContextEnds(t *testing.T) {
	srv := runtimeapi.New(t, runtimeapi.Options{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := srv.Invoke(ctx, []byte(`{}`)); !errors.Is(err, context.Canceled) {
		t.Errorf("Invoke: %v, want context.Canceled", err)
	}
}

// The wire-level tests below play the bootstrap with net/http, for what aws-lambda-go's client
// does not do on its own.

func base(srv *runtimeapi.Server) string { return "http://" + srv.Addr() + "/2018-06-01/runtime/" }

func post(t *testing.T, url, body string, trailer http.Header) *http.Response {
	t.Helper()
	var r io.Reader = strings.NewReader(body)
	req, err := http.NewRequest(http.MethodPost, url, r)
	if err != nil {
		t.Fatal(err)
	}
	if trailer != nil {
		req.Trailer = trailer
		req.ContentLength = -1
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func next(t *testing.T, srv *runtimeapi.Server) *http.Response {
	t.Helper()
	resp, err := http.Get(base(srv) + "invocation/next")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("next: %s", resp.Status)
	}
	return resp
}

func TestInitError(t *testing.T) {
	srv := runtimeapi.New(t, runtimeapi.Options{})
	if srv.InitError() != nil {
		t.Fatal("InitError before any post")
	}
	resp := post(t, base(srv)+"init/error",
		`{"errorMessage":"IAMWARDEN_MODE: \"fix\" is not report or enforce","errorType":"configError"}`, nil)
	if resp.StatusCode != http.StatusAccepted {
		t.Errorf("init/error: %s", resp.Status)
	}
	<-srv.InitErrorPosted()
	got := srv.InitError()
	if got == nil || got.Type != "configError" || !strings.Contains(got.Message, "IAMWARDEN_MODE") {
		t.Errorf("InitError() = %+v", got)
	}
}

func TestStreamingErrorTrailers(t *testing.T) {
	srv := runtimeapi.New(t, runtimeapi.Options{})
	ctx := testContext(t)
	done := make(chan runtimeapi.Response, 1)
	go func() {
		resp, err := srv.Invoke(ctx, []byte(`{}`))
		if err != nil {
			t.Errorf("Invoke: %v", err)
		}
		done <- resp
	}()
	id := next(t, srv).Header.Get(runtimeapi.HeaderRequestID)

	// What aws-lambda-go sends when the response reader fails part way.
	errBody := base64.StdEncoding.EncodeToString([]byte(`{"errorMessage":"disk gone","errorType":"PathError"}`))
	trailer := http.Header{"Lambda-Runtime-Function-Error-Type": {"PathError"},
		"Lambda-Runtime-Function-Error-Body": {errBody}}
	if resp := post(t, base(srv)+"invocation/"+id+"/response", `{"partial":`, trailer); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("response: %s", resp.Status)
	}
	got := <-done
	if got.Err == nil || got.Err.Type != "PathError" || got.Err.Message != "disk gone" || got.Body != nil {
		t.Errorf("response %+v, err %+v", got, got.Err)
	}
}

func TestPostsForUnknownInvocations(t *testing.T) {
	srv := runtimeapi.New(t, runtimeapi.Options{})
	ctx := testContext(t)
	go func() { _, _ = srv.Invoke(ctx, []byte(`{}`)) }()
	id := next(t, srv).Header.Get(runtimeapi.HeaderRequestID)

	for _, c := range []struct {
		path string
		want int
	}{
		{"invocation/not-an-id/response", http.StatusBadRequest},
		{"invocation/" + id + "/response", http.StatusAccepted},
		{"invocation/" + id + "/response", http.StatusBadRequest}, // answered already
		{"invocation/" + id + "/error", http.StatusBadRequest},
	} {
		if resp := post(t, base(srv)+c.path, `{}`, nil); resp.StatusCode != c.want {
			t.Errorf("POST %s: %s, want %d", c.path, resp.Status, c.want)
		}
	}
}
