//! The proxy plugin's manifest: routes, scripts and capabilities.

use infrastructor_sdk::prelude::*;

use crate::configs::{ListQuery, OneQuery};
use crate::detection::DetectionQuery;
use crate::edit::{CreateRequest, DeleteQuery, UpdateRequest};
use crate::names::{SAMPLE_PATTERN, SERVICE_PATTERN};
use crate::samples::DeviceQuery;
use crate::scan::ScanQuery;
use crate::summary::SummaryQuery;
use crate::{
    configs, detect, detection, edit, listing, records, remote, samples, scan, summary, sync,
};

fn service() -> Param {
    Param::path("service_name")
        .pattern(SERVICE_PATTERN)
        .description("The service (`nextcloud` for `nextcloud.subdomain.conf`)")
}

/// The plugin.
pub fn app() -> App {
    App::new("proxy", env!("CARGO_PKG_VERSION"))
        .description(
            "SWAG reverse-proxy confs on managed hosts: detection, records synced from the \
             files, content, samples and templates, confs older than their sample, and \
             edits checked by nginx -t inside the SWAG container",
        )
        .mount("/proxies")
        .capability("registry-read")
        .capability("storage")
        .capability("clock")
        .capability("exec:docker ps **")
        .capability("exec:docker inspect **")
        .capability("exec:docker exec **")
        .capability("exec:stat **")
        .capability("exec:sha256sum **")
        .capability("exec:grep **")
        .capability("exec:head **")
        .capability("exec:cat **")
        .capability("exec:cp **")
        .capability("exec:mv **")
        .capability("exec:rm **")
        .capability("exec:mkdir **")
        .script("detect", detect::DETECT, &["docker"])
        .script(
            "list",
            listing::LIST,
            &["cat", "stat", "sha256sum", "grep", "head"],
        )
        .script("read", remote::READ, &["stat", "cat"])
        .script("samples", remote::SAMPLES, &["stat", "grep"])
        .script(
            "apply",
            remote::APPLY,
            &["docker", "cat", "cp", "mv", "rm", "mkdir"],
        )
        .route(
            Route::get("/configs", "list_configs")
                .returns::<configs::ConfPage>()
                .error(404, "No SWAG found on the named or monitored devices")
                .remote()
                .summary("Proxy confs, from the records")
                .description(
                    "Records of the confs synced from the devices, filtered and paged. A \
                     device never synced, or `live=true`, is synced first (one remote run); \
                     its report is in `live_sync`.",
                )
                .query::<ListQuery>(),
            configs::list,
        )
        .route(
            Route::get("/configs/{service_name}", "get_config")
                .returns::<records::ConfView>()
                .error(404, "No such proxy config")
                .remote()
                .summary("One proxy conf: its record, full parse and content")
                .description(
                    "From the record (synced first when there is none, or with `live=true`); \
                     the content is read from the device.",
                )
                .param(service())
                .query::<OneQuery>(),
            configs::get,
        )
        .route(
            Route::get("/configs/{service_name}/content", "get_config_content")
                .returns_text(
                    "text/plain",
                    "The conf file as it is on the device (its name in `X-Conf-File`)",
                )
                .error(404, "No such proxy config")
                .remote()
                .summary("A proxy conf's content, as text")
                .param(service())
                .query::<OneQuery>(),
            configs::content,
        )
        .route(
            Route::get("/configs/{service_name}/diff", "diff_config")
                .returns::<configs::ConfDiff>()
                .error(404, "No such proxy config")
                .remote()
                .summary("A proxy conf against its sample: unified diff and versions")
                .description(
                    "SWAG updates its samples but never the confs copied from them: `outdated` \
                     says the conf's `## Version` is older than its sample's, and the diff \
                     shows what changed.",
                )
                .param(service())
                .query::<OneQuery>(),
            configs::diff,
        )
        .route(
            Route::post("/configs/{service_name}", "create_config")
                .returns::<edit::ConfCreated>()
                .error(400, "The config or service name is invalid")
                .error(404, "No SWAG found on the device")
                .error(409, "The config exists already")
                .remote()
                .summary("Create a proxy conf from its sample (or SWAG's template)")
                .description(
                    "The sample's upstream lines get the given app, port and protocol and the \
                     chosen auth method's lines are turned on. Written atomically, checked \
                     with nginx -t inside the SWAG container, then reloaded; a conf nginx \
                     refuses is removed again and answered 400 with nginx's message. 409 \
                     when the conf exists.",
                )
                .param(service())
                .body::<CreateRequest>()
                .status(201),
            edit::create,
        )
        .route(
            Route::put("/configs/{service_name}", "update_config")
                .returns::<edit::ConfUpdated>()
                .error(400, "The config is invalid")
                .error(404, "No such proxy config")
                .error(409, "The file changed since it was read")
                .remote()
                .summary("Change a proxy conf's upstream or auth method")
                .description(
                    "Only the upstream lines and the auth lines change. The previous file is \
                     kept as a backup; a change nginx -t refuses is undone (400).",
                )
                .param(service())
                .body::<UpdateRequest>(),
            edit::update,
        )
        .route(
            Route::delete("/configs/{service_name}", "delete_config")
                .returns::<edit::ConfDeleted>()
                .error(404, "No such proxy config")
                .remote()
                .summary("Delete a proxy conf (a backup is kept), then reload SWAG")
                .param(service())
                .query::<DeleteQuery>(),
            edit::delete,
        )
        .route(
            Route::post("/configs/{service_name}/sync", "sync_config")
                .returns::<configs::SyncOne>()
                .error(400, "The config is invalid")
                .error(404, "No such proxy config")
                .remote()
                .summary("Sync one service's confs from the device into the records")
                .param(service())
                .query::<OneQuery>(),
            configs::sync_one,
        )
        .route(
            Route::post("/scan", "scan_configs")
                .returns::<sync::SyncReport>()
                .error(404, "No SWAG found on the device")
                .remote()
                .summary("Reconcile a device's confs directory into the records")
                .description(
                    "One remote run lists the confs with their sha256 and sends back only \
                     the content of new or changed files; the records change in one \
                     transaction. Counts new, updated, removed and unchanged confs.",
                )
                .query::<ScanQuery>(),
            scan::handler,
        )
        .route(
            Route::get("/summary", "proxy_summary")
                .returns::<summary::ProxySummary>()
                .summary("Counts over the records: status, type, device, auth, TLS, outdated")
                .query::<SummaryQuery>(),
            summary::handler,
        )
        .route(
            Route::get("/templates/{template_type}", "get_template")
                .returns_text(
                    "text/plain",
                    "SWAG's template for the type, as it is on the device",
                )
                .error(404, "No such template")
                .remote()
                .summary("SWAG's subdomain or subfolder template, as text")
                .param(
                    Param::path("template_type")
                        .allowed(&["subdomain", "subfolder"])
                        .description("`subdomain` or `subfolder`"),
                )
                .query::<DeviceQuery>(),
            samples::template,
        )
        .route(
            Route::get("/samples", "list_samples")
                .returns::<samples::SampleList>()
                .error(404, "No SWAG found on the device")
                .remote()
                .summary("SWAG's samples on the device, with their versions")
                .query::<DeviceQuery>(),
            samples::list,
        )
        .route(
            Route::get("/samples/{sample_name}", "get_sample")
                .returns_text(
                    "text/plain",
                    "The sample file as it is on the device (its name in `X-Sample-File`)",
                )
                .error(400, "Not a sample name")
                .error(404, "No such sample")
                .remote()
                .summary("One sample, as text (by service name or file name)")
                .param(
                    Param::path("sample_name")
                        .pattern(SAMPLE_PATTERN)
                        .description(
                            "`nextcloud` (subdomain, else subfolder) or the file name \
                             `nextcloud.subfolder.conf.sample`",
                        ),
                )
                .query::<DeviceQuery>(),
            samples::get,
        )
        .route(
            Route::get("/detection", "detect_swag")
                .returns::<detection::DetectionReport>()
                .remote()
                .summary("Where SWAG runs: container, image and config directory per device")
                .query::<DetectionQuery>(),
            detection::handler,
        )
}

#[cfg(test)]
mod tests {
    #[test]
    fn manifest_is_valid() {
        if let Err(problems) = super::app().validate() {
            panic!("{problems:#?}");
        }
    }

    #[test]
    fn every_mounted_route_declares_its_success_response() {
        assert_eq!(super::app().untyped_routes(), Vec::<String>::new());
    }
}
