from fastapi.testclient import TestClient


def test_create_and_update_team(client: TestClient, create_team):
    team = create_team("Preventers", headquarters="Sharp Tower")
    response = client.patch(f"/teams/{team['id']}", json={"headquarters": "Sister Margaret's Bar"})
    assert response.status_code == 200
    assert response.json() == {"id": team["id"], "name": "Preventers", "headquarters": "Sister Margaret's Bar"}

    listed = client.get("/teams/", params={"limit": 100}).json()
    assert {"id": team["id"], "name": "Preventers", "headquarters": "Sister Margaret's Bar"} in listed


def test_hero_with_teams(client: TestClient, create_team, create_hero):
    z_force = create_team("Z-Force")
    avengers = create_team("Avengers")
    hero = create_hero("Captain North", age=93, team_ids=[z_force["id"], avengers["id"]])
    assert sorted(t["name"] for t in hero["teams"]) == ["Avengers", "Z-Force"]

    response = client.get(f"/heroes/{hero['id']}")
    assert response.status_code == 200
    assert sorted(t["id"] for t in response.json()["teams"]) == sorted([z_force["id"], avengers["id"]])

    response = client.get(f"/teams/{z_force['id']}")
    assert [h["name"] for h in response.json()["heroes"]] == ["Captain North"]


def test_create_hero_with_unknown_team(client: TestClient):
    response = client.post("/heroes/", json={"name": "Lonely", "secret_name": "L", "team_ids": [987654]})
    assert response.status_code == 404


def test_link_and_unlink_hero(client: TestClient, create_team, create_hero):
    team = create_team("Linkers")
    hero = create_hero("Black Lion", age=35)

    response = client.put(f"/heroes/{hero['id']}/teams/{team['id']}")
    assert response.status_code == 200
    assert [t["name"] for t in response.json()["teams"]] == ["Linkers"]
    # linking twice is idempotent
    assert len(client.put(f"/heroes/{hero['id']}/teams/{team['id']}").json()["teams"]) == 1

    response = client.delete(f"/heroes/{hero['id']}/teams/{team['id']}")
    assert response.json()["teams"] == []
    assert client.get(f"/teams/{team['id']}").json()["heroes"] == []


def test_team_stats(client: TestClient, create_team, create_hero):
    team = create_team("Statisticians")
    create_hero("Counter One", age=30, team_ids=[team["id"]])
    create_hero("Counter Two", age=40, team_ids=[team["id"]])
    create_hero("Counter Three", team_ids=[team["id"]])

    response = client.get(f"/teams/{team['id']}/stats")
    assert response.status_code == 200
    assert response.json() == {"team_id": team["id"], "hero_count": 3, "average_age": 35.0}

    assert client.get("/teams/987654/stats").status_code == 404


def test_delete_team_keeps_heroes(client: TestClient, create_team, create_hero):
    team = create_team("Disbanded")
    hero = create_hero("Survivor", team_ids=[team["id"]])

    assert client.delete(f"/teams/{team['id']}").json() == {"ok": True}
    assert client.get(f"/teams/{team['id']}").status_code == 404
    response = client.get(f"/heroes/{hero['id']}")
    assert response.status_code == 200
    assert response.json()["teams"] == []
