import assert from "node:assert/strict";
import { generateSecrets } from "./secrets.ts";

Deno.test("generateSecrets() makes an admin token the server accepts at boot: 32+ characters, unlike any other secret", () => {
  for (let i = 0; i < 100; i++) {
    const secrets = generateSecrets();
    // server/config.ts refuses ADMIN_TOKEN, VIEWER_TOKEN, METRICS_TOKEN and MIRROR_SECRET
    // shorter than 32 characters or equal to one another.
    assert.ok(secrets.adminToken.length >= 32, secrets.adminToken);
    assert.match(secrets.adminToken, /^[A-Za-z0-9_-]+$/);
    assert.notEqual(secrets.adminToken, secrets.redisPassword);
    assert.notEqual(secrets.adminToken, secrets.postgresPassword);
  }
});
