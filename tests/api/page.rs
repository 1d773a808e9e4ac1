//! The board page's files: served from the binary, compressed for clients that accept
//! it, with the icon browsers ask for; and the mentor profile the page's form reads.

use crate::helpers::*;
use serde_json::json;
use std::io::Read;

#[actix_web::test]
async fn the_page_and_its_files_are_served_compressed_to_clients_that_accept_it() {
    let app = spawn_app().await;
    for (path, kind, marker) in [
        ("/", "text/html", "<main id=\"content\""),
        ("/app.js", "text/javascript", "function keyed("),
        ("/app.css", "text/css", ".skip"),
    ] {
        let plain = app
            .client
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(plain.status(), 200, "{path}");
        assert!(plain.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with(kind));
        assert!(
            plain.headers().get("content-encoding").is_none(),
            "{path}: not asked for"
        );
        let original = plain.text().await.unwrap();
        assert!(original.contains(marker), "{path}");

        let zipped = app
            .client
            .get(format!("{}{path}", app.address))
            .header("accept-encoding", "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(zipped.headers()["content-encoding"], "gzip", "{path}");
        let bytes = zipped.bytes().await.unwrap();
        assert!(
            bytes.len() * 2 < original.len(),
            "{path}: {} of {} bytes",
            bytes.len(),
            original.len()
        );
        let mut unzipped = String::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut unzipped)
            .unwrap();
        assert_eq!(unzipped, original, "{path}");
    }
    for path in ["/favicon.svg", "/favicon.ico"] {
        let icon = app
            .client
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(icon.status(), 200, "{path}");
        assert_eq!(icon.headers()["content-type"], "image/svg+xml");
        assert!(icon.text().await.unwrap().starts_with("<svg"));
    }
    let posted = app
        .client
        .post(format!("{}/app.js", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 405);
    assert_eq!(posted.headers()["allow"], "GET");
}

#[actix_web::test]
async fn a_mentor_reads_their_own_profile_even_before_saving_one() {
    let app = spawn_app().await;
    let grace = app.mentor("Grace").await;
    let fresh = app.get("/api/mentors/me/", &grace.access).await;
    assert_eq!(fresh.status, 200, "{}", fresh.body);
    assert_eq!(
        fresh.body,
        json!({"id": grace.id, "name": "Grace", "about_me": "", "skills": [],
               "team_number": null, "queues": null, "presence": "available"})
    );
    let put = app
        .call(
            reqwest::Method::PUT,
            "/api/mentors/me/",
            Some(&grace.access),
            Some(json!({"about_me": "Compilers", "skills": ["rust"]})),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.body);
    let saved = app.get("/api/mentors/me/", &grace.access).await;
    assert_eq!(saved.body["about_me"], "Compilers");
    assert_eq!(saved.body["skills"], json!(["rust"]));
    let ada = app.hacker("Ada").await;
    let refused = app.get("/api/mentors/me/", &ada.access).await;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.body["code"], "permission_denied");
}
