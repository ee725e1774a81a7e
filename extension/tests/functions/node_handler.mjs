// The Node.js test function: answers with the event it got and the Node.js version that ran
// it; `{"op": "sleep", "ms": N}` sleeps first, `{"op": "throw"}` throws, and
// `{"op": "fetch" | "get", "url": U}` answers with the status and body of U fetched with Node's
// own `fetch` or `http.get` (or the error it failed with); `{"op": "aws", "calls": [...]}` runs
// DynamoDB calls with the AWS SDK for JavaScript v3 (endpoint and proxy from the environment, as
// `deployer enable --aws-services` and the wrapper set them) and reports each one's result or
// error name, status, retry count and time.
import http from "node:http";
import { createRequire } from "node:module";

const awsCalls = async (calls) => {
  // The SDK is installed beside the runtime client (scripts/node-runtime.sh), not beside this file.
  const require = createRequire(`${process.env.FAULTLINE_TEST_NODE_MODULES}/`);
  const sdk = require("@aws-sdk/client-dynamodb");
  const commands = {
    create_table: sdk.CreateTableCommand,
    put_item: sdk.PutItemCommand,
    get_item: sdk.GetItemCommand,
  };
  // maxAttempts counts attempts: three retries, four attempts at most.
  const client = new sdk.DynamoDBClient({ region: "us-east-1", maxAttempts: 4 });
  const results = [];
  for (const step of calls) {
    const started = performance.now();
    let result;
    try {
      const answer = await client.send(new commands[step.op](step.args ?? {}));
      delete answer.$metadata;
      result = { ok: answer };
    } catch (error) {
      result = error.$metadata?.httpStatusCode
        ? {
            error: error.name,
            status: error.$metadata.httpStatusCode,
            retries: error.$metadata.attempts - 1,
          }
        : { failed: `${error.name}: ${error.message}` };
    }
    result.ms = performance.now() - started;
    results.push(result);
  }
  return { results };
};

const get = (url) =>
  new Promise((resolve, reject) => {
    http
      .get(url, (answer) => {
        let body = "";
        answer.setEncoding("utf8");
        answer.on("data", (chunk) => (body += chunk));
        answer.on("end", () => resolve({ status: answer.statusCode, body }));
      })
      .on("error", reject);
  });

export const handler = async (event, context) => {
  if (event.op === "sleep") {
    await new Promise((resolve) => setTimeout(resolve, event.ms));
  }
  if (event.op === "throw") {
    throw new TypeError("thrown by the handler");
  }
  if (event.op === "aws") {
    return await awsCalls(event.calls);
  }
  try {
    if (event.op === "fetch") {
      const answer = await fetch(event.url);
      return { status: answer.status, body: await answer.text() };
    }
    if (event.op === "get") {
      return await get(event.url);
    }
  } catch (error) {
    return { error: String(error.cause ?? error) };
  }
  return {
    echo: event,
    node: process.version,
    requestId: context.awsRequestId,
    proxy: process.env.HTTP_PROXY ?? null,
    useEnvProxy: process.env.NODE_USE_ENV_PROXY ?? null,
  };
};
