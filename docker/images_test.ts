import assert from "node:assert/strict";
import { join } from "node:path";
import { DEFAULT_IMAGES } from "../cli/mod.ts";
import { pinnedDenoVersion, recipeDigest, repoRootOf, standInImages } from "./images.ts";

const root = repoRootOf();

Deno.test("standInImages() are named for what they are, never with an upstream tag", async () => {
  const version = await pinnedDenoVersion(root);
  assert.equal(`denoland/deno:${version}`, DEFAULT_IMAGES.deno);
  const images = standInImages(version);
  assert.deepEqual(images.map((i) => [i.tag, i.standsInFor]), [
    ["wb-local/postgres:15", DEFAULT_IMAGES.postgres],
    ["wb-local/redis:7", DEFAULT_IMAGES.redis],
    [`wb-local/deno:${version}`, DEFAULT_IMAGES.deno],
  ]);
  for (const image of images) {
    assert.ok(image.tag.startsWith("wb-local/"));
    const dockerfile = await Deno.readTextFile(
      join(root, "docker", "standin", image.name, "Dockerfile"),
    );
    assert.match(dockerfile, /^FROM scratch\nADD rootfs\.tar \/$/m, image.name);
    assert.match(dockerfile, /^COPY docker-entrypoint\.sh /m, image.name);
  }
});

Deno.test("recipeDigest() changes with the build files, the packages and the build arguments", async () => {
  const [postgres, redis] = standInImages("2.9.6");
  const digest = await recipeDigest(root, postgres);
  assert.match(digest, /^[0-9a-f]{16}$/);
  assert.equal(await recipeDigest(root, postgres), digest);
  assert.notEqual(
    await recipeDigest(root, { ...postgres, packages: [...postgres.packages, "less"] }),
    digest,
  );
  assert.notEqual(await recipeDigest(root, redis), digest);
  const copy = await Deno.makeTempDir();
  try {
    await Deno.mkdir(join(copy, "docker", "standin", "postgres"), { recursive: true });
    for (const file of ["Dockerfile", "docker-entrypoint.sh"]) {
      await Deno.copyFile(
        join(root, "docker", "standin", "postgres", file),
        join(copy, "docker", "standin", "postgres", file),
      );
    }
    assert.equal(await recipeDigest(copy, postgres), digest);
    await Deno.writeTextFile(
      join(copy, "docker", "standin", "postgres", "docker-entrypoint.sh"),
      "\n",
      { append: true },
    );
    assert.notEqual(await recipeDigest(copy, postgres), digest);
  } finally {
    await Deno.remove(copy, { recursive: true });
  }
});
