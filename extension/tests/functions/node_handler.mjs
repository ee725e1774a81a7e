// The Node.js test function: answers with the event it got and the Node.js version that ran
// it; `{"op": "sleep", "ms": N}` sleeps first, `{"op": "throw"}` throws, and
// `{"op": "fetch" | "get", "url": U}` answers with the status and body of U fetched with Node's
// own `fetch` or `http.get` (or the error it failed with).
import http from "node:http";

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
