import assert from "node:assert/strict";
import { tempWb } from "./_test_helpers.ts";
import { loadConfig, saveConfig } from "./config.ts";
import { globalImages, showInstance } from "./config_commands.ts";
import { updateInstance } from "./config_update.ts";
import { CliError, UsageError } from "./errors.ts";
import {
  DEFAULT_IMAGES,
  imageSettingsFromEnv,
  resolveImages,
  validateImage,
  validateImageSettings,
} from "./images.ts";
import { initInstance } from "./init_instance.ts";
import { main } from "./main.ts";

Deno.test("validateImage() takes docker references (a repository without tag for the app)", () => {
  for (
    const ok of [
      "postgres:17.4",
      "redis:7-alpine",
      "wb-local/postgres:15",
      "registry.example.org:5000/team/redis:7.4",
      `postgres@sha256:${"a".repeat(64)}`,
      "postgres",
    ]
  ) assert.equal(validateImage(ok, "postgres"), ok);
  for (const bad of ["Postgres:17", "postgres:", "post gres", "-x:1", "a//b", ""]) {
    assert.throws(() => validateImage(bad, "redis"), UsageError, bad);
  }
  assert.equal(
    validateImage("registry.example.org/wb-server", "app"),
    "registry.example.org/wb-server",
  );
  assert.throws(() => validateImage("wb-server:1.4", "app"), /without a tag/);
});

Deno.test("resolveImages(): instance, then servers.json, then the environment, then the upstream images", () => {
  const layers = {
    config: { postgres: "cfg/postgres:1", redis: "cfg/redis:1" },
    env: { postgres: "env/postgres:1", redis: "env/redis:1", app: "env/app", deno: "env/deno:1" },
  };
  const images = resolveImages(
    { images: { redis: "own/redis:1" }, serverVersion: "1.4", adminVersion: "2" },
    layers,
  );
  assert.deepEqual(images, {
    postgres: "cfg/postgres:1",
    redis: "own/redis:1",
    app: "env/app:1.4",
    admin: "wb-admin:2",
    deno: "env/deno:1",
    sources: {
      postgres: "servers.json",
      redis: "instance",
      app: "environment",
      deno: "environment",
    },
  });
  assert.deepEqual(resolveImages({}), {
    postgres: DEFAULT_IMAGES.postgres,
    redis: DEFAULT_IMAGES.redis,
    app: "wb-server:latest",
    deno: DEFAULT_IMAGES.deno,
    sources: { postgres: "default", redis: "default", app: "default", deno: "default" },
  });
});

Deno.test("image settings: unknown roles and bad references in servers.json or the environment are named", () => {
  assert.equal(validateImageSettings(undefined, "x"), undefined);
  assert.equal(validateImageSettings({ redis: "" }, "x"), undefined);
  assert.throws(
    () => validateImageSettings({ redsi: "redis:7" }, "servers.json"),
    (e) =>
      e instanceof CliError &&
      /unknown image 'redsi' \(known: postgres, redis, app, deno\)/.test(e.message),
  );
  assert.throws(
    () => validateImageSettings({ redis: 7 }, "x"),
    /'images\.redis': must be a string/,
  );
  assert.throws(() => validateImageSettings(["redis:7"], "x"), /must be an object/);
  assert.throws(() => validateImageSettings({ app: "wb:1" }, "x"), /'images\.app'.*without a tag/);
  assert.deepEqual(imageSettingsFromEnv({ WB_REDIS_IMAGE: " wb-local/redis:7 ", HOME: "/" }), {
    redis: "wb-local/redis:7",
  });
  assert.throws(
    () => imageSettingsFromEnv({ WB_POSTGRES_IMAGE: "Bad Image" }),
    /^UsageError: WB_POSTGRES_IMAGE: Invalid postgres image/,
  );
});

Deno.test("images and the publish address round-trip through servers.json, c add, c update and c images", async () => {
  await using wb = await tempWb();
  await initInstance(wb.context, "web", {
    port: 18810,
    runtime: "docker",
    images: { redis: "wb-local/redis:7" },
    publishAddress: "0.0.0.0",
  });
  await assert.rejects(
    initInstance(wb.context, "nat", { port: 18820, images: { redis: "redis:7" } }),
    /docker settings; 'nat' would be native/,
  );
  await initInstance(wb.context, "nat", { port: 18820 });
  await assert.rejects(
    updateInstance(wb.context, "nat", { publishAddress: "0.0.0.0" }),
    /runs natively: images and the publish address are docker settings/,
  );
  await assert.rejects(
    updateInstance(wb.context, "web", { publishAddress: "localhost" }),
    /Invalid publish address 'localhost'/,
  );

  wb.context.imageDefaults = { postgres: "env/postgres:1" };
  const global = await globalImages(wb.context, { postgres: "cfg/postgres:2", deno: "cfg/deno:1" });
  assert.deepEqual(global.settings, { postgres: "cfg/postgres:2", deno: "cfg/deno:1" });
  await updateInstance(wb.context, "web", { images: { app: "registry.example.org/wb" } });
  let shown = await showInstance(wb.context, "web");
  assert.deepEqual(shown.dockerImages?.sources, {
    postgres: "servers.json",
    redis: "instance",
    app: "instance",
    deno: "servers.json",
  });
  assert.equal(shown.dockerImages?.app, "registry.example.org/wb:latest");
  assert.equal(shown.publishedOn, "0.0.0.0:18810");

  // Clearing falls back layer by layer; other edits keep the global settings.
  await updateInstance(wb.context, "web", {
    images: { redis: null, app: null },
    publishAddress: null,
  });
  await globalImages(wb.context, { postgres: null });
  shown = await showInstance(wb.context, "web");
  assert.deepEqual(shown.dockerImages?.sources, {
    postgres: "environment",
    redis: "default",
    app: "default",
    deno: "servers.json",
  });
  assert.equal(shown.publishedOn, "127.0.0.1:18810");
  const config = await loadConfig(wb.home);
  assert.deepEqual(config.images, { deno: "cfg/deno:1" });
  assert.equal(config.instances.find((i) => i.id === "web")?.images, undefined);
  await saveConfig(wb.home, config);
  assert.deepEqual((await loadConfig(wb.home)).images, { deno: "cfg/deno:1" });
});

Deno.test("wb refuses a bad image in servers.json or the environment with a message naming it", async () => {
  await using wb = await tempWb();
  await Deno.writeTextFile(
    `${wb.home}/servers.json`,
    JSON.stringify({ images: { postgres: "NOT VALID" }, instances: [] }),
  );
  assert.equal(await main(["c", "list"], { WB_HOME: wb.home, CI: "1" }), 1);
  await Deno.writeTextFile(`${wb.home}/servers.json`, JSON.stringify({ instances: [] }));
  assert.equal(await main(["c", "list"], { WB_HOME: wb.home, CI: "1", WB_REDIS_IMAGE: "x y" }), 2);
  assert.equal(
    await main(["c", "list"], { WB_HOME: wb.home, CI: "1", WB_REDIS_IMAGE: "x/y:1" }),
    0,
  );
});
