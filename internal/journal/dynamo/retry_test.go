package dynamo_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/iamwarden/iamwarden/internal/faultproxy"
	"github.com/iamwarden/iamwarden/internal/journal"
	"github.com/iamwarden/iamwarden/internal/journal/dynamo"
	"github.com/iamwarden/iamwarden/internal/mototest"
)

// When DynamoDB makes a write but its answer is lost, the SDK retries and the retry's condition
// fails on the first attempt's item. Begin and Finish recognise their own write: the journal
// records each action once, and the caller is told it succeeded.
func TestWritesWithLostAnswers(t *testing.T) {
	ctx := context.Background()
	srv := mototest.Shared(t)
	cfg := srv.Config(ctx)
	if _, err := dynamo.CreateTable(ctx, dynamodb.NewFromConfig(cfg), table); err != nil {
		t.Fatal(err)
	}
	writes := func(r *http.Request) bool {
		target := r.Header.Get("X-Amz-Target")
		return strings.HasSuffix(target, ".PutItem") || strings.HasSuffix(target, ".UpdateItem") || strings.HasSuffix(target, ".TransactWriteItems")
	}
	proxy := faultproxy.New(srv.Endpoint, faultproxy.Options{Seed: 1, DropAfter: 1, Match: writes, MaxFaultsPerRequestKey: 1})
	defer proxy.Close()
	cfg.BaseEndpoint = aws.String(proxy.URL)
	client := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts, so.MaxBackoff, so.RateLimiter = 4, 5*time.Millisecond, ratelimit.None
		})
	})
	j, err := dynamo.New(client, table)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	entries := []journal.Entry{
		{ActionID: "01JPAAAAAAAAAAAAAAAAAAAAA1", RunID: "r", AccountID: "123456789012", Kind: journal.KindDeactivateKey, Principal: "bob", Resource: "AKIAEXAMPLE", CreatedAt: at},
		{ActionID: "01JPAAAAAAAAAAAAAAAAAAAAA2", AccountID: "123456789012", Kind: journal.KindNotify, Principal: "ann", DedupeKey: "grace-started/ann", CreatedAt: at},
	}
	for _, e := range entries {
		if err := j.Begin(ctx, e); err != nil {
			t.Fatalf("Begin %s with its answer lost: %v", e.ActionID, err)
		}
		if err := j.Finish(ctx, e.ActionID, journal.StatusDone, "ok", at.Add(time.Second)); err != nil {
			t.Fatalf("Finish %s with its answer lost: %v", e.ActionID, err)
		}
		got, err := j.Get(ctx, e.ActionID)
		if err != nil || got.Status != journal.StatusDone {
			t.Fatalf("entry %+v, %v", got, err)
		}
	}
	if st := proxy.Stats(); st.DroppedAfter < 3 {
		t.Fatalf("only %d answers dropped: the test did not exercise retries (%+v)", st.DroppedAfter, st)
	}
	// A real duplicate is still refused, and a second, different result too.
	dup := entries[0]
	dup.Principal = "someone-else"
	if err := j.Begin(ctx, dup); err == nil {
		t.Error("a different entry with a used action ID was accepted")
	}
	if err := j.Finish(ctx, entries[0].ActionID, journal.StatusFailed, "other", at.Add(time.Hour)); err == nil {
		t.Error("a second, different result was accepted")
	}
}
