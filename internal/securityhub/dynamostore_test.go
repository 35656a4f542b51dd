package securityhub_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/iamwarden/iamwarden/internal/journal"
	"github.com/iamwarden/iamwarden/internal/journal/dynamo"
	"github.com/iamwarden/iamwarden/internal/journal/dynamo/dynamotest"
	"github.com/iamwarden/iamwarden/internal/mototest"
	"github.com/iamwarden/iamwarden/internal/securityhub"
)

const table = "iamwarden-journal"

// journalTable is a moto account holding a journal table, with its client.
func journalTable(t *testing.T) *dynamodb.Client {
	t.Helper()
	client := dynamodb.NewFromConfig(mototest.Shared(t).Config(context.Background()))
	if _, err := dynamo.CreateTable(context.Background(), client, table); err != nil {
		t.Fatalf("CreateTable: %v", err)
	}
	return client
}

// bigState has n findings with incompressible titles: gzipped, it takes several chunks.
func bigState(n int) securityhub.State {
	st := sampleState()
	base := st.Findings["iamwarden/123456789012/root-mfa-missing/root"]
	for i := range n {
		r := base
		b := make([]byte, 300)
		_, _ = rand.Read(b)
		r.Title = base64.StdEncoding.EncodeToString(b)
		st.Findings[fmt.Sprintf("iamwarden/123456789012/user-mfa-missing/AIDA%016d", i)] = r
	}
	return st
}

// stateItems lists the store's items in the table.
func stateItems(t *testing.T, client *dynamodb.Client) []string {
	t.Helper()
	out, err := client.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, it := range out.Items {
		if k := it["ActionID"].(*dbtypes.AttributeValueMemberS).Value; strings.HasPrefix(k, securityhub.KeyPrefix) {
			keys = append(keys, k)
		}
	}
	return keys
}

func TestDynamoStore(t *testing.T) {
	ctx := context.Background()
	client := journalTable(t)
	s, err := securityhub.NewDynamoStore(client, table)
	if err != nil {
		t.Fatal(err)
	}
	empty, err := s.Load(ctx, account, region)
	if err != nil || len(empty.Findings) != 0 || empty.Account != account {
		t.Fatalf("Load of nothing = %+v, %v", empty, err)
	}
	for _, tc := range []struct {
		name   string
		state  securityhub.State
		chunks int
	}{
		{"one item", sampleState(), 1},
		{"chunks", bigState(2500), 3},
		{"fewer chunks again", sampleState(), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.Save(ctx, tc.state); err != nil {
				t.Fatal(err)
			}
			got, err := s.Load(ctx, account, region)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.state) {
				t.Errorf("Load differs from what was saved (%d findings, want %d)", len(got.Findings), len(tc.state.Findings))
			}
			// The head and the current generation's chunks; the old generation is deleted.
			if items := stateItems(t, client); len(items) != 1+tc.chunks {
				t.Errorf("items = %v, want a head and %d chunks", items, tc.chunks)
			}
		})
	}
	if _, err := securityhub.NewDynamoStore(client, ""); err == nil {
		t.Error("empty table name: no error")
	}
}

// The journal in the same table neither returns nor trips on the store's items.
func TestDynamoStoreBesideTheJournal(t *testing.T) {
	ctx := context.Background()
	client := journalTable(t)
	j, err := dynamo.New(dynamotest.NewSerial(client), table)
	if err != nil {
		t.Fatal(err)
	}
	id, err := journal.NewIDGenerator(nil, nil).New()
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	entry := journal.Entry{ActionID: id, RunID: "run-1", AccountID: account, Kind: journal.KindDeactivateKey,
		Principal: "bob", Resource: "AKIABOBKEY0000000001", Prior: map[string]string{"key_status": "Active"}, CreatedAt: at}
	if err := j.Begin(ctx, entry); err != nil {
		t.Fatal(err)
	}

	s, err := securityhub.NewDynamoStore(client, table)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Save(ctx, bigState(2500)); err != nil {
		t.Fatal(err)
	}
	other := sampleState()
	other.Region = "eu-west-1"
	if err := s.Save(ctx, other); err != nil {
		t.Fatal(err)
	}

	for name, f := range map[string]journal.Filter{
		"scan":       {},
		"by account": {AccountID: account},
		"by run":     {RunID: "run-1"},
		"by status":  {Statuses: []journal.Status{journal.StatusIntent}},
		"limited":    {Limit: 5},
	} {
		got, err := j.List(ctx, f)
		if err != nil {
			t.Errorf("List %s: %v", name, err)
			continue
		}
		if len(got) != 1 || got[0].ActionID != id {
			t.Errorf("List %s = %d entries, want the one entry", name, len(got))
		}
	}
	for _, acct := range []string{"", account} {
		open, err := j.Open(ctx, acct)
		if err != nil || len(open) != 1 || open[0].ActionID != id {
			t.Errorf("Open(%q) = %d entries, %v; want the one intent", acct, len(open), err)
		}
	}
	for _, k := range stateItems(t, client) {
		if _, err := j.Get(ctx, k); !errors.Is(err, journal.ErrNotFound) {
			t.Errorf("journal Get(%s) = %v, want not found", k, err)
		}
	}
	if err := j.Check(ctx); err != nil {
		t.Errorf("journal Check: %v", err)
	}
	if err := j.Finish(ctx, id, journal.StatusDone, "", at.Add(time.Second)); err != nil {
		t.Errorf("journal Finish: %v", err)
	}
	// And the journal's items leave the states alone.
	if got, err := s.Load(ctx, account, "eu-west-1"); err != nil || !reflect.DeepEqual(got, other) {
		t.Errorf("Load after the journal's writes = %v", err)
	}
}

// racingDB runs Race once, just before the head of a state is put.
type racingDB struct {
	securityhub.DynamoAPI
	Race func()
}

func (r *racingDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if v, ok := in.Item["ItemType"].(*dbtypes.AttributeValueMemberS); ok && v.Value == "securityhub-state" && r.Race != nil {
		race := r.Race
		r.Race = nil
		race()
	}
	return r.DynamoAPI.PutItem(ctx, in, o...)
}

func TestDynamoStoreConflict(t *testing.T) {
	ctx := context.Background()
	client := journalTable(t)
	winner, _ := securityhub.NewDynamoStore(client, table)
	won := sampleState()
	won.LastImport = won.LastImport.Add(time.Hour)
	db := &racingDB{DynamoAPI: client, Race: func() {
		if err := winner.Save(ctx, won); err != nil {
			t.Errorf("winner: %v", err)
		}
	}}
	loser, _ := securityhub.NewDynamoStore(db, table)
	if err := loser.Save(ctx, bigState(10)); !errors.Is(err, securityhub.ErrStateConflict) {
		t.Fatalf("Save that lost the race = %v, want ErrStateConflict", err)
	}
	if got, err := loser.Load(ctx, account, region); err != nil || !reflect.DeepEqual(got, won) {
		t.Errorf("Load = %v; want the winner's state", err)
	}
	if items := stateItems(t, client); len(items) != 2 {
		t.Errorf("items = %v, want the winner's head and chunk only", items)
	}
}
