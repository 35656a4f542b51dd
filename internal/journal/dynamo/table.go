package dynamo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TableClient is the part of the DynamoDB API CreateTable uses; *dynamodb.Client implements it.
type TableClient interface {
	CreateTable(ctx context.Context, params *dynamodb.CreateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	DescribeTable(ctx context.Context, params *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	UpdateTimeToLive(ctx context.Context, params *dynamodb.UpdateTimeToLiveInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error)
	DescribeTimeToLive(ctx context.Context, params *dynamodb.DescribeTimeToLiveInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTimeToLiveOutput, error)
	UpdateContinuousBackups(ctx context.Context, params *dynamodb.UpdateContinuousBackupsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateContinuousBackupsOutput, error)
}

var _ TableClient = (*dynamodb.Client)(nil)

// tableWait bounds how long CreateTable waits for the table to become active.
const tableWait = 5 * time.Minute

// TableInput is the CreateTable request for a journal table named name: the key schema and
// indexes docs/journal.md describes, on-demand billing and deletion protection.
func TableInput(name string) *dynamodb.CreateTableInput {
	s := func(attr string) types.AttributeDefinition {
		return types.AttributeDefinition{AttributeName: aws.String(attr), AttributeType: types.ScalarAttributeTypeS}
	}
	gsi := func(index, hash string) types.GlobalSecondaryIndex {
		return types.GlobalSecondaryIndex{
			IndexName: aws.String(index),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(hash), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String(attrCreatedKey), KeyType: types.KeyTypeRange},
			},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}
	}
	return &dynamodb.CreateTableInput{
		TableName: aws.String(name),
		AttributeDefinitions: []types.AttributeDefinition{
			s(attrActionID), s(attrAccountID), s(attrRunID), s(attrOpenAccountID), s(attrCreatedKey),
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(attrActionID), KeyType: types.KeyTypeHash},
		},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{
			gsi(IndexAccount, attrAccountID),
			gsi(IndexRun, attrRunID),
			gsi(IndexOpen, attrOpenAccountID),
		},
		BillingMode:               types.BillingModePayPerRequest,
		DeletionProtectionEnabled: aws.Bool(true),
		Tags:                      []types.Tag{{Key: aws.String("app"), Value: aws.String("iamwarden")}},
	}
}

// CreateTable creates the journal table, waits until it is active, and turns on point-in-time
// recovery and the expiry (TTL) of abandoned leases. It is idempotent: a table that already
// exists is kept, and what is already on is left on. It reports whether it created the table.
func CreateTable(ctx context.Context, client TableClient, name string) (created bool, err error) {
	if name == "" {
		return false, errors.New("create journal table: empty name")
	}
	_, err = client.CreateTable(ctx, TableInput(name))
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return false, fmt.Errorf("create journal table %s: %w", name, err)
	}
	created = err == nil
	w := dynamodb.NewTableExistsWaiter(client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 2 * time.Second
		o.MaxDelay = 20 * time.Second
	})
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, tableWait); err != nil {
		return created, fmt.Errorf("create journal table %s: wait until active: %w", name, err)
	}
	ttl, err := client.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(name)})
	if err != nil {
		return created, fmt.Errorf("journal table %s: read TTL: %w", name, err)
	}
	if d := ttl.TimeToLiveDescription; d == nil || (d.TimeToLiveStatus != types.TimeToLiveStatusEnabled && d.TimeToLiveStatus != types.TimeToLiveStatusEnabling) {
		if _, err := client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: aws.String(name),
			TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String(attrExpiresEpoch), Enabled: aws.Bool(true)}}); err != nil {
			return created, fmt.Errorf("journal table %s: turn on TTL of %s: %w", name, attrExpiresEpoch, err)
		}
	}
	if _, err := client.UpdateContinuousBackups(ctx, &dynamodb.UpdateContinuousBackupsInput{TableName: aws.String(name),
		PointInTimeRecoverySpecification: &types.PointInTimeRecoverySpecification{PointInTimeRecoveryEnabled: aws.Bool(true)}}); err != nil {
		return created, fmt.Errorf("journal table %s: turn on point-in-time recovery: %w", name, err)
	}
	return created, nil
}
