import assert from "node:assert/strict";
import { UsageError } from "./errors.ts";
import { formatProxyPlan, planProxy, PROXY_MAX_BODY_KIB, validateHostName } from "./proxy.ts";

const instance = { id: "kano", port: 8710 };

Deno.test("planProxy() proxies the instance's own TLS host name to its loopback port, streams unbuffered, /metrics hidden", () => {
  const plan = planProxy(instance, { host: "Kano.WB.example.org.", email: "ops@example.org" });
  assert.equal(plan.host, "kano.wb.example.org");
  assert.equal(plan.upstream, "http://127.0.0.1:8710");
  assert.equal(plan.configPath, "/etc/nginx/sites-available/wb-kano.conf");
  const { nginx } = plan;
  assert.match(nginx, /listen 80;[\s\S]*return 301 https:\/\/\$host\$request_uri;/);
  assert.match(nginx, /listen 443 ssl http2;/);
  assert.equal(nginx.match(/server_name kano\.wb\.example\.org;/g)?.length, 2);
  assert.match(
    nginx,
    /ssl_certificate \/etc\/letsencrypt\/live\/kano\.wb\.example\.org\/fullchain\.pem;/,
  );
  assert.match(nginx, /Strict-Transport-Security/);
  assert.match(nginx, new RegExp(`client_max_body_size ${PROXY_MAX_BODY_KIB}k;`));
  // The client's X-Forwarded-For is replaced, never appended to.
  assert.match(nginx, /proxy_set_header X-Forwarded-For \$remote_addr;/);
  assert.doesNotMatch(nginx, /proxy_add_x_forwarded_for/);
  assert.match(nginx, /proxy_set_header X-Forwarded-Proto https;/);
  assert.match(nginx, /location = \/metrics \{\s*return 404;/);
  assert.match(
    nginx,
    /location ~ \^\/api\/\(projects\/\[A-Za-z0-9_-\]\+\/\)\?events\$ \{[^}]*proxy_buffering off;/,
  );
  assert.equal(nginx.match(/proxy_pass http:\/\/127\.0\.0\.1:8710;/g)?.length, 2);
  // Balanced braces: a block nginx can parse.
  assert.equal(nginx.split("{").length, nginx.split("}").length);
  assert.deepEqual(plan.commands, [
    "certbot certonly --nginx -d kano.wb.example.org -m ops@example.org --agree-tos",
    "install -m 0644 <this config> /etc/nginx/sites-available/wb-kano.conf",
    "ln -sf /etc/nginx/sites-available/wb-kano.conf /etc/nginx/sites-enabled/wb-kano.conf",
    "nginx -t && systemctl reload nginx",
  ]);
  assert.match(plan.notes.join("\n"), /Keep port 8710 closed/);
  assert.match(plan.notes.join("\n"), /ALLOWED_HOSTS=kano\.wb\.example\.org/);
  const text = formatProxyPlan({ ...plan, written: "/tmp/wb-kano.conf" });
  assert.match(text, /install -m 0644 \/tmp\/wb-kano\.conf/);
});

Deno.test("validateHostName() takes DNS names only: no address, no single label, no injection into the config", () => {
  for (
    const bad of [
      "localhost",
      "127.0.0.1",
      "::1",
      "-bad.example.org",
      "a..b",
      "kano.example.org; return 200",
      "kano.example.org\n}",
      "x".repeat(64) + ".org",
      "",
    ]
  ) {
    assert.throws(() => validateHostName(bad), UsageError, JSON.stringify(bad));
  }
  assert.equal(validateHostName("a-b.example.org"), "a-b.example.org");
  assert.throws(
    () => planProxy(instance, { host: "a.example.org", email: "x@y.org; rm -rf /" }),
    UsageError,
  );
  assert.match(
    planProxy(instance, { host: "kano.example.org" }).commands[0],
    /--register-unsafely-without-email --agree-tos$/,
  );
});
