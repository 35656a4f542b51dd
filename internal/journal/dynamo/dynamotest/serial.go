// Package dynamotest helps tests run the DynamoDB journal against moto.
package dynamotest

import (
	"context"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/iamwarden/iamwarden/internal/journal/dynamo"
)

// Serial sends one request at a time over every Serial sharing Mu. DynamoDB applies each
// conditional write atomically; moto checks the condition and writes in separate steps, so two
// of its request threads can both pass the same condition. One request at a time restores
// DynamoDB's guarantee, while the journals and their callers still run concurrently.
type Serial struct {
	Mu *sync.Mutex
	dynamo.Client
}

var _ dynamo.Client = Serial{}

// NewSerial returns a Serial over client with a mutex of its own.
func NewSerial(client dynamo.Client) Serial { return Serial{Mu: &sync.Mutex{}, Client: client} }

func (c Serial) lock() func() { c.Mu.Lock(); return c.Mu.Unlock }

func (c Serial) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	defer c.lock()()
	return c.Client.GetItem(ctx, in, o...)
}

func (c Serial) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	defer c.lock()()
	return c.Client.PutItem(ctx, in, o...)
}

func (c Serial) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	defer c.lock()()
	return c.Client.UpdateItem(ctx, in, o...)
}

func (c Serial) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	defer c.lock()()
	return c.Client.DeleteItem(ctx, in, o...)
}

func (c Serial) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	defer c.lock()()
	return c.Client.TransactWriteItems(ctx, in, o...)
}

func (c Serial) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	defer c.lock()()
	return c.Client.Query(ctx, in, o...)
}

func (c Serial) Scan(ctx context.Context, in *dynamodb.ScanInput, o ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	defer c.lock()()
	return c.Client.Scan(ctx, in, o...)
}

func (c Serial) DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, o ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error) {
	defer c.lock()()
	return c.Client.DescribeTable(ctx, in, o...)
}
