import Foundation
import Hummingbird
import ROMAModel

/// /v1/models (the base and every registered adapter as its own model, with parent, rank, bytes and
/// residency) and adapter management (/v1/adapters: list, load from the adapter directory, delete,
/// pin and unpin). The ROM image is never touched: adapters live in SRAM.
extension OpenAIServer {
    func addModelRoutes(_ router: Router<BasicRequestContext>) {
        router.get("/v1/models") { _, _ -> Response in
            let ready = try self.require()
            return Self.json(["object": "list", "data": self.modelObjects(ready)])
        }
        router.get("/v1/models/:id") { _, context -> Response in
            let ready = try self.require()
            let id = try context.parameters.require("id")
            guard let m = self.modelObjects(ready).first(where: { $0["id"] as? String == id }) else {
                throw APIError(.notFound, "the model '\(id)' does not exist", param: "model", code: "model_not_found")
            }
            return Self.json(m)
        }
        router.get("/v1/adapters") { _, _ -> Response in
            let ready = try self.require()
            return Self.json(["object": "list", "data": ready.engine.adapters.status.map(self.adapterObject)])
        }
        router.post("/v1/adapters") { request, _ -> Response in try await self.loadAdapter(request) }
        router.delete("/v1/adapters/:name") { _, context -> Response in
            let ready = try self.require()
            let name = try context.parameters.require("name")
            try ready.engine.adapters.unregister(name)
            return Self.json(["id": name, "object": "adapter", "deleted": true])
        }
        router.post("/v1/adapters/:name/pin") { _, context -> Response in
            let ready = try self.require()
            let name = try context.parameters.require("name")
            try ready.engine.adapters.pin(name)
            return Self.json(self.adapterObject(try self.status(name, ready)))
        }
        router.post("/v1/adapters/:name/unpin") { _, context -> Response in
            let ready = try self.require()
            let name = try context.parameters.require("name")
            _ = try self.status(name, ready)
            ready.engine.adapters.unpin(name)
            return Self.json(self.adapterObject(try self.status(name, ready)))
        }
    }

    func status(_ name: String, _ ready: Ready) throws -> AdapterRegistry.Status {
        guard let s = ready.engine.adapters.status.first(where: { $0.name == name }) else {
            throw APIError(.notFound, "no adapter named '\(name)' is registered", param: "name", code: "model_not_found")
        }
        return s
    }

    func modelObjects(_ ready: Ready) -> [[String: Any]] {
        var base: [String: Any] = ["id": options.modelID, "object": "model", "created": created, "owned_by": "roma",
                                   "parent": NSNull(), "backend": ready.engine.backend.name,
                                   "context_length": ready.engine.config.contextLength]
        if let m = ready.engine.backend.memory { base["sram_bytes"] = m.capacity; base["sram_free_bytes"] = m.free }
        return [base] + ready.engine.adapters.status.map { s in
            var o = adapterObject(s)
            o["object"] = "model"; o["created"] = created; o["owned_by"] = "roma"; o["parent"] = options.modelID
            return o
        }
    }

    func adapterObject(_ s: AdapterRegistry.Status) -> [String: Any] {
        ["id": s.name, "object": "adapter", "rank": s.ranks.count == 1 ? s.ranks[0] as Any : s.ranks as Any, "bytes": s.residentBytes,
         "resident": s.resident, "pinned": s.pinned, "in_use": s.inUse, "source": s.source]
    }

    /// `POST /v1/adapters {"name", "path"}`: a PEFT directory or llama.cpp GGUF under `--adapter-dir`
    /// (relative to it, or absolute inside it); anything outside is refused (403).
    func loadAdapter(_ request: Request) async throws -> Response {
        let ready = try require()
        let b = try JSONBody(try await body(request))
        guard let dir = options.adapterDirectory else {
            throw APIError(.forbidden, "loading adapters at run time is off (start the server with --adapter-dir DIR)", code: "adapter_loading_disabled")
        }
        let path = try b.requireString("path")
        let name = try b.string("name")
        let root = URL(fileURLWithPath: dir).resolvingSymlinksInPath().standardizedFileURL.path
        let target = URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: root, isDirectory: true))
            .resolvingSymlinksInPath().standardizedFileURL.path
        guard target.hasPrefix(root + "/") else {
            throw APIError(.forbidden, "'\(path)' is outside the adapter directory", param: "path", code: "path_not_allowed")
        }
        guard FileManager.default.fileExists(atPath: target) else {
            throw APIError(.notFound, "no adapter at '\(path)' in the adapter directory", param: "path", code: "not_found")
        }
        let a = try ready.engine.adapters.register(path: target, name: name)
        return Self.json(adapterObject(try status(a.name, ready)), status: .created)
    }
}
