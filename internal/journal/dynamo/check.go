package dynamo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Check verifies that the table exists, is active, has the key schema and indexes the journal
// needs, and that the caller may write to it, writing nothing: the write probe is a put whose
// condition can never hold, so DynamoDB checks permissions and then refuses it.
func (j *Journal) Check(ctx context.Context) error {
	hint := "try: iamwarden journal init --journal-table " + j.table
	out, err := j.client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(j.table)})
	var missing *types.ResourceNotFoundException
	if errors.As(err, &missing) {
		return fmt.Errorf("journal table %s does not exist; %s", j.table, hint)
	}
	if err != nil {
		return fmt.Errorf("journal table %s: describe: %w", j.table, err)
	}
	if problems := schemaProblems(out.Table); len(problems) > 0 {
		return fmt.Errorf("journal table %s is not a journal table: %s; %s (or name another table)", j.table, strings.Join(problems, "; "), hint)
	}
	x := newExpr()
	_, err = j.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(j.table),
		Item: map[string]types.AttributeValue{
			attrActionID: str(leaseID("write-check")),
			attrItemType: str("write-check"),
		},
		ConditionExpression:      aws.String(fmt.Sprintf("attribute_exists(%s) AND attribute_not_exists(%s)", x.name(attrActionID), x.name(attrActionID))),
		ExpressionAttributeNames: x.names,
	})
	var failed *types.ConditionalCheckFailedException
	if err == nil || errors.As(err, &failed) {
		return nil
	}
	return fmt.Errorf("journal table %s is not writable: %w", j.table, err)
}

// schemaProblems lists how a table differs from TableInput's key schema and indexes.
func schemaProblems(t *types.TableDescription) []string {
	if t == nil {
		return []string{"no description"}
	}
	var problems []string
	if t.TableStatus != types.TableStatusActive && t.TableStatus != types.TableStatusUpdating {
		problems = append(problems, fmt.Sprintf("status is %s, not ACTIVE", t.TableStatus))
	}
	want := TableInput(aws.ToString(t.TableName))
	if keys(t.KeySchema) != keys(want.KeySchema) {
		problems = append(problems, fmt.Sprintf("key is %s, want %s", keys(t.KeySchema), keys(want.KeySchema)))
	}
	have := map[string]string{}
	for _, g := range t.GlobalSecondaryIndexes {
		have[aws.ToString(g.IndexName)] = keys(g.KeySchema)
	}
	for _, g := range want.GlobalSecondaryIndexes {
		name := aws.ToString(g.IndexName)
		got, ok := have[name]
		switch {
		case !ok:
			problems = append(problems, "index "+name+" is missing")
		case got != keys(g.KeySchema):
			problems = append(problems, fmt.Sprintf("index %s is %s, want %s", name, got, keys(g.KeySchema)))
		}
	}
	slices.Sort(problems)
	return problems
}

func keys(ks []types.KeySchemaElement) string {
	parts := make([]string, len(ks))
	for i, k := range ks {
		parts[i] = aws.ToString(k.AttributeName) + " " + string(k.KeyType)
	}
	return strings.Join(parts, ", ")
}
