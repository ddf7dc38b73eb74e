// Vite build of the clew web UI. The output goes into the Python package that serves it (api/ui_dist), so
// `clew serve` serves the page without Node.js; CI rebuilds it from `npm ci` and compares, so the build must be
// deterministic: content-hashed file names, no timestamps, no absolute paths in the bundle.
import { defineConfig } from "vite";

export default defineConfig({
  base: "/",
  esbuild: { jsx: "automatic", legalComments: "none" },
  build: {
    outDir: "../api/ui_dist",
    emptyOutDir: true,
    sourcemap: false,
    target: "es2022",
    chunkSizeWarningLimit: 2000,
    reportCompressedSize: false,
    rollupOptions: {
      onwarn(warning, warn) {
        // dependencies' "use client" directives and annotation comments are harmless in a client bundle
        if (warning.code === "MODULE_LEVEL_DIRECTIVE" || warning.code === "INVALID_ANNOTATION") return;
        warn(warning);
      },
    },
  },
  server: {
    proxy: Object.fromEntries(
      ["/threads", "/runs", "/assistants", "/api", "/todos", "/info", "/ok", "/store", "/openapi.json"].map(
        (p) => [p, "http://127.0.0.1:2024"],
      ),
    ),
  },
  test: { environment: "node", include: ["src/**/*.test.ts"] },
} as import("vite").UserConfig);
