# Builds and tests iamwarden. Go is all it needs: the Lambda zip is written by a Go program.
GO ?= go

LAMBDA_DIR := dist/lambda

.PHONY: lambda test clean

# The Lambda function for provided.al2023 on arm64: a static `bootstrap` (lambda.norpc drops the
# legacy go1.x RPC mode), zipped as the only entry of the deployment package, mode 0755.
# The zip is written by internal/lambdafn/zipbootstrap rather than `zip -j`: zip is often not
# installed, and its output varies with the file's mtime and the umask.
lambda:
	mkdir -p $(LAMBDA_DIR)
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build -trimpath -tags lambda.norpc -ldflags "-s -w" -o $(LAMBDA_DIR)/bootstrap ./cmd/iamwarden-lambda
	$(GO) run ./internal/lambdafn/zipbootstrap -o $(LAMBDA_DIR)/iamwarden-lambda.zip $(LAMBDA_DIR)/bootstrap

# The README's test command, with the race detector as CI runs it.
test:
	$(GO) test -race ./...

clean:
	rm -rf dist
