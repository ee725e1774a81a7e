// faultline: lets the AWS SDK for JavaScript v3 reach the dependency proxy's TLS origination.
//
// The SDK sends its calls through an http.Agent of its own, and Node's NODE_USE_ENV_PROXY=1
// configures only the global agents, so an SDK pointed at http://<AWS host>:443 (an
// AWS_ENDPOINT_URL_<SERVICE> set by `deployer enable --aws-services`) would connect to AWS itself.
// The exec wrapper preloads this file (NODE_OPTIONS=--require) only while the dependency proxy is
// live and such an endpoint is set. It makes every http.Agent follow HTTP_PROXY/NO_PROXY (Node's
// `proxyEnv` agent option, Node 24.5+); https.Agent is untouched. On a Node without that option
// it removes the origination endpoints instead, so the SDK calls AWS over HTTPS itself.
"use strict";

const http = require("node:http");
const { syncBuiltinESMExports } = require("node:module");

const ORIGINATION =
  /^http:\/\/[^/]*\.(amazonaws\.com|amazonaws\.com\.cn|api\.aws):443(\/.*)?$/;
const [major, minor] = process.versions.node.split(".").map(Number);

if (major > 24 || (major === 24 && minor >= 5)) {
  const Base = http.Agent;
  class Agent extends Base {
    constructor(options) {
      super({ proxyEnv: process.env, ...options });
    }
  }
  http.Agent = Agent;
  // The SDK's ES module build imports { Agent } from "http": update that binding too.
  syncBuiltinESMExports();
} else {
  for (const name of Object.keys(process.env)) {
    if (name.startsWith("AWS_ENDPOINT_URL") && ORIGINATION.test(process.env[name])) {
      delete process.env[name];
    }
  }
}
