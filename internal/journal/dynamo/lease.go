package dynamo

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/iamwarden/iamwarden/internal/journal"
)

func leaseID(accountID string) string { return journal.LeasePrefix + accountID }

func leaseItem(l journal.Lease) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		attrActionID:     str(leaseID(l.AccountID)),
		attrItemType:     str(typeLease),
		attrAccountID:    str(l.AccountID),
		attrRunID:        str(l.RunID),
		attrActor:        str(l.Actor),
		attrHost:         str(l.Host),
		attrPID:          &types.AttributeValueMemberN{Value: strconv.Itoa(l.PID)},
		attrAcquired:     str(journal.FormatTime(l.Acquired)),
		attrExpires:      str(journal.FormatTime(l.Expires)),
		attrExpiresEpoch: &types.AttributeValueMemberN{Value: strconv.FormatInt(l.Expires.Unix(), 10)},
	}
}

// Acquire takes the account's lease; see journal.Leaser. One conditional put: the lease item is
// absent, expired (times are TimeLayout text, which compares in time order) or the caller's.
func (j *Journal) Acquire(ctx context.Context, l journal.Lease, now time.Time) error {
	if err := journal.CheckLease(l); err != nil {
		return err
	}
	for range 3 {
		x := newExpr()
		cond := fmt.Sprintf("attribute_not_exists(%s) OR %s <= %s OR %s = %s",
			x.name(attrActionID), x.name(attrExpires), x.value(journal.FormatTime(now)), x.name(attrRunID), x.value(l.RunID))
		_, err := j.client.PutItem(ctx, &dynamodb.PutItemInput{
			TableName:                 aws.String(j.table),
			Item:                      leaseItem(l),
			ConditionExpression:       aws.String(cond),
			ExpressionAttributeNames:  x.names,
			ExpressionAttributeValues: x.values,
		})
		var failed *types.ConditionalCheckFailedException
		if !errors.As(err, &failed) {
			if err != nil {
				return fmt.Errorf("acquire lease of %s: %w", l.AccountID, err)
			}
			return nil
		}
		cur, found, err := j.Holder(ctx, l.AccountID)
		if err != nil {
			return fmt.Errorf("acquire lease of %s: %w", l.AccountID, err)
		}
		if found {
			return &journal.LeasedError{Holder: cur}
		}
		// Released between the put and the read: try again.
	}
	return fmt.Errorf("acquire lease of %s: the lease kept changing hands; try again", l.AccountID)
}

// Renew extends the run's lease; see journal.Leaser.
func (j *Journal) Renew(ctx context.Context, l journal.Lease, now time.Time) error {
	if err := journal.CheckLease(l); err != nil {
		return err
	}
	x := newExpr()
	update := fmt.Sprintf("SET %s = %s, %s = :epoch", x.name(attrExpires), x.value(journal.FormatTime(l.Expires)), x.name(attrExpiresEpoch))
	x.values[":epoch"] = &types.AttributeValueMemberN{Value: strconv.FormatInt(l.Expires.Unix(), 10)}
	_, err := j.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(j.table),
		Key:                       map[string]types.AttributeValue{attrActionID: str(leaseID(l.AccountID))},
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String(x.name(attrRunID) + " = " + x.value(l.RunID)),
		ExpressionAttributeNames:  x.names,
		ExpressionAttributeValues: x.values,
	})
	var failed *types.ConditionalCheckFailedException
	if errors.As(err, &failed) {
		return fmt.Errorf("renew lease of %s for run %s: %w", l.AccountID, l.RunID, journal.ErrLeaseLost)
	}
	if err != nil {
		return fmt.Errorf("renew lease of %s: %w", l.AccountID, err)
	}
	return nil
}

// Release gives the lease up; see journal.Leaser.
func (j *Journal) Release(ctx context.Context, accountID, runID string) error {
	if err := j.deleteIf(ctx, leaseID(accountID), attrRunID, runID); err != nil {
		return fmt.Errorf("release lease of %s: %w", accountID, err)
	}
	return nil
}

// Holder returns the account's lease; see journal.Leaser.
func (j *Journal) Holder(ctx context.Context, accountID string) (journal.Lease, bool, error) {
	out, err := j.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(j.table),
		Key:            map[string]types.AttributeValue{attrActionID: str(leaseID(accountID))},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return journal.Lease{}, false, fmt.Errorf("read lease of %s: %w", accountID, err)
	}
	if out.Item == nil {
		return journal.Lease{}, false, nil
	}
	s := func(name string) string {
		v, _ := out.Item[name].(*types.AttributeValueMemberS)
		if v == nil {
			return ""
		}
		return v.Value
	}
	l := journal.Lease{AccountID: accountID, RunID: s(attrRunID), Actor: s(attrActor), Host: s(attrHost)}
	if n, ok := out.Item[attrPID].(*types.AttributeValueMemberN); ok {
		l.PID, _ = strconv.Atoi(n.Value)
	}
	if l.Acquired, err = journal.ParseTime(s(attrAcquired)); err != nil {
		return journal.Lease{}, false, fmt.Errorf("read lease of %s: %w", accountID, err)
	}
	if l.Expires, err = journal.ParseTime(s(attrExpires)); err != nil {
		return journal.Lease{}, false, fmt.Errorf("read lease of %s: %w", accountID, err)
	}
	return l, true, nil
}
