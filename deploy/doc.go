// Package deploy holds the deployments of the iamwarden Lambda function: a CloudFormation
// template (cloudformation/iamwarden.yaml) and a Terraform module (terraform/). It has no code;
// its tests check both against the policy renderer, the journal's table, the Lambda contract and
// each other, and create the template in moto (docs/deploy.md).
package deploy
