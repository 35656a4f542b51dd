package securityhub

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/iamwarden/iamwarden/internal/journal"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// DynamoAPI is the part of DynamoDB the DynamoStore uses; *dynamodb.Client implements it.
type DynamoAPI interface {
	GetItem(ctx context.Context, params *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, params *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	DeleteItem(ctx context.Context, params *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

var _ DynamoAPI = (*dynamodb.Client)(nil)

// DynamoStore keeps the states in the journal's DynamoDB table (docs/journal.md), beside the
// journal's items and invisible to the journal:
//
//   - The head item of a state has the key ActionID "SECURITYHUB#<account>#<region>" and says
//     which generation of chunks holds the state and how many there are. A generation is a
//     random token drawn by each Save, so two Saves never write the same chunks.
//   - The state is gzipped JSON cut in chunks of at most ChunkBytes (DynamoDB items hold
//     400 KB), one item each: ActionID "SECURITYHUB#<account>#<region>#<generation>#<n>".
//
// The items carry none of the attributes the journal's indexes are keyed on (AccountID, RunID,
// OpenAccountID, CreatedKey), so its queries never see them, and an ItemType the journal's scans
// and reads skip (it reads only "action" items). Journal action IDs never start with
// "SECURITYHUB#" (they are 26 base32 characters).
//
// Save writes the new generation's chunks, then switches the head to them on the condition that
// it still names the generation Save read (the Save that loses a race fails with
// ErrStateConflict and deletes its own chunks), then deletes the old chunks. A reader that finds
// a chunk gone reads the head again. A Save that dies midway leaves chunks no head names: they
// are never read.
type DynamoStore struct {
	client DynamoAPI
	table  string
}

var _ StateStore = (*DynamoStore)(nil)

// KeyPrefix starts the ActionID of every item the DynamoStore writes.
const KeyPrefix = journal.SecurityHubPrefix

// ChunkBytes is the most state bytes (gzipped) one item holds, below DynamoDB's 400 KB.
const ChunkBytes = 350_000

// ErrStateConflict is a Save that lost to another Save of the same state.
var ErrStateConflict = errors.New("security hub state changed by another run")

// Item types and attributes. The key attribute is the journal table's.
const (
	attrKey        = "ActionID"
	attrItemType   = "ItemType"
	typeStateHead  = "securityhub-state"
	typeStateChunk = "securityhub-state-chunk"
	attrGeneration = "SecurityHubGeneration"
	attrChunks     = "SecurityHubChunks"
	attrData       = "SecurityHubData"
	attrSaved      = "SecurityHubSavedAt"
)

// loadAttempts bounds how often Load reads the head again after a concurrent Save replaced the
// chunks it was reading.
const loadAttempts = 3

// NewDynamoStore returns a store in the named journal table.
func NewDynamoStore(client DynamoAPI, table string) (*DynamoStore, error) {
	if client == nil {
		return nil, errors.New("security hub state store: nil DynamoDB client")
	}
	if table == "" {
		return nil, errors.New("security hub state store: empty table name; try: --journal-table <name>")
	}
	return &DynamoStore{client: client, table: table}, nil
}

func headKey(account, region string) string { return KeyPrefix + account + "#" + region }

func chunkKey(account, region, gen string, n int) string {
	return fmt.Sprintf("%s#%s#%d", headKey(account, region), gen, n)
}

// newGeneration draws a generation token.
func newGeneration() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

func key(k string) map[string]dbtypes.AttributeValue {
	return map[string]dbtypes.AttributeValue{attrKey: &dbtypes.AttributeValueMemberS{Value: k}}
}

// head is what the head item says; an empty gen is no state.
type head struct {
	gen    string
	chunks int
}

func (s *DynamoStore) readHead(ctx context.Context, account, region string) (head, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table), Key: key(headKey(account, region)), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return head{}, err
	}
	if out.Item == nil {
		return head{}, nil
	}
	gen, ok := out.Item[attrGeneration].(*dbtypes.AttributeValueMemberS)
	chunks, err := number(out.Item[attrChunks])
	if !ok || gen.Value == "" || err != nil {
		return head{}, fmt.Errorf("malformed item %s: generation %v, chunks %v", headKey(account, region), out.Item[attrGeneration], out.Item[attrChunks])
	}
	return head{gen: gen.Value, chunks: int(chunks)}, nil
}

func number(v dbtypes.AttributeValue) (int64, error) {
	n, ok := v.(*dbtypes.AttributeValueMemberN)
	if !ok {
		return 0, fmt.Errorf("attribute is %T, want a number", v)
	}
	return strconv.ParseInt(n.Value, 10, 64)
}

// Load reads a state; none saved is an empty state.
func (s *DynamoStore) Load(ctx context.Context, account, region string) (State, error) {
	if err := checkKey(account, region); err != nil {
		return State{}, fmt.Errorf("load security hub state: %w", err)
	}
	for attempt := 1; ; attempt++ {
		h, err := s.readHead(ctx, account, region)
		if err != nil {
			return State{}, fmt.Errorf("load security hub state of %s %s from %s: %w", account, region, s.table, err)
		}
		if h.gen == "" {
			return emptyState(account, region), nil
		}
		var data []byte
		missing := false
		for n := range h.chunks {
			out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
				TableName: aws.String(s.table), Key: key(chunkKey(account, region, h.gen, n)), ConsistentRead: aws.Bool(true),
			})
			if err != nil {
				return State{}, fmt.Errorf("load security hub state of %s %s from %s: %w", account, region, s.table, err)
			}
			b, ok := out.Item[attrData].(*dbtypes.AttributeValueMemberB)
			if !ok {
				missing = true
				break
			}
			data = append(data, b.Value...)
		}
		if missing {
			if attempt < loadAttempts {
				continue // a concurrent Save replaced the generation: read its head
			}
			return State{}, fmt.Errorf("load security hub state of %s %s from %s: chunks of generation %s are missing", account, region, s.table, h.gen)
		}
		st, err := decodeState(data)
		if err != nil {
			return State{}, fmt.Errorf("load security hub state of %s %s from %s: %w", account, region, s.table, err)
		}
		if st.Account != account || st.Region != region {
			return State{}, fmt.Errorf("load security hub state of %s %s from %s: it holds the state of %s %s", account, region, s.table, st.Account, st.Region)
		}
		return st, nil
	}
}

// Save replaces a state; see DynamoStore.
func (s *DynamoStore) Save(ctx context.Context, st State) error {
	if err := checkKey(st.Account, st.Region); err != nil {
		return fmt.Errorf("save security hub state: %w", err)
	}
	fail := func(err error) error {
		return fmt.Errorf("save security hub state of %s %s to %s: %w", st.Account, st.Region, s.table, err)
	}
	data, err := encodeState(st)
	if err != nil {
		return fail(err)
	}
	old, err := s.readHead(ctx, st.Account, st.Region)
	if err != nil {
		return fail(err)
	}
	gen, err := newGeneration()
	if err != nil {
		return fail(err)
	}
	chunks := slices.Collect(slices.Chunk(data, ChunkBytes))
	for n, c := range chunks {
		_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: map[string]dbtypes.AttributeValue{
			attrKey:      &dbtypes.AttributeValueMemberS{Value: chunkKey(st.Account, st.Region, gen, n)},
			attrItemType: &dbtypes.AttributeValueMemberS{Value: typeStateChunk},
			attrData:     &dbtypes.AttributeValueMemberB{Value: c},
		}})
		if err != nil {
			return fail(err)
		}
	}
	cond := "attribute_not_exists(#k)"
	values := map[string]dbtypes.AttributeValue{}
	names := map[string]string{"#k": attrKey}
	if old.gen != "" {
		cond = "#g = :g"
		values[":g"] = &dbtypes.AttributeValueMemberS{Value: old.gen}
		names = map[string]string{"#g": attrGeneration}
	}
	in := &dynamodb.PutItemInput{
		TableName: aws.String(s.table),
		Item: map[string]dbtypes.AttributeValue{
			attrKey:        &dbtypes.AttributeValueMemberS{Value: headKey(st.Account, st.Region)},
			attrItemType:   &dbtypes.AttributeValueMemberS{Value: typeStateHead},
			attrGeneration: &dbtypes.AttributeValueMemberS{Value: gen},
			attrChunks:     &dbtypes.AttributeValueMemberN{Value: strconv.Itoa(len(chunks))},
			attrSaved:      &dbtypes.AttributeValueMemberS{Value: FormatTime(st.LastImport)},
		},
		ConditionExpression:      aws.String(cond),
		ExpressionAttributeNames: names,
	}
	if len(values) > 0 {
		in.ExpressionAttributeValues = values
	}
	_, err = s.client.PutItem(ctx, in)
	var failed *dbtypes.ConditionalCheckFailedException
	if errors.As(err, &failed) {
		s.deleteChunks(ctx, st.Account, st.Region, gen, len(chunks))
		return fail(ErrStateConflict)
	}
	if err != nil {
		return fail(err)
	}
	// The old generation is unreachable now; a chunk left by a failed delete is only garbage.
	if old.gen != "" {
		s.deleteChunks(ctx, st.Account, st.Region, old.gen, old.chunks)
	}
	return nil
}

func (s *DynamoStore) deleteChunks(ctx context.Context, account, region, gen string, n int) {
	for i := range n {
		_, _ = s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.table), Key: key(chunkKey(account, region, gen, i))})
	}
}

func encodeState(st State) ([]byte, error) {
	if st.Findings == nil {
		st.Findings = map[string]Record{}
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(st); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func decodeState(data []byte) (State, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return State{}, fmt.Errorf("decode state: %w", err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return State{}, fmt.Errorf("decode state: %w", err)
	}
	var st State
	if err := json.Unmarshal(raw, &st); err != nil {
		return State{}, fmt.Errorf("decode state: %w", err)
	}
	if st.Findings == nil {
		st.Findings = map[string]Record{}
	}
	return st, nil
}
