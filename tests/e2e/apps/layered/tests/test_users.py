def test_register_and_read_user(client, unique):
    email = f"{unique('ada')}@example.com"
    response = client.post("/users/", json={"email": email, "full_name": "Ada Lovelace"})
    assert response.status_code == 201, response.text
    user = response.json()
    assert user["email"] == email
    assert user["is_active"] is True
    assert user["created_at"]

    response = client.get(f"/users/{user['id']}")
    assert response.status_code == 200
    assert response.json() == user


def test_register_duplicate_email_is_case_insensitive(client, unique):
    email = f"{unique('dup')}@example.com"
    assert client.post("/users/", json={"email": email}).status_code == 201
    response = client.post("/users/", json={"email": email.upper()})
    assert response.status_code == 409
    assert response.json()["detail"] == "Email already registered"


def test_read_user_not_found(client):
    response = client.get("/users/987654321")
    assert response.status_code == 404


def test_me_requires_known_user(client, unique):
    assert client.get("/users/me").status_code == 422  # header missing
    response = client.get("/users/me", headers={"X-User": f"{unique('ghost')}@example.com"})
    assert response.status_code == 401
    assert response.json()["detail"] == "Unknown user"


def test_update_me(client, user_headers):
    response = client.patch("/users/me", json={"full_name": "Renamed"}, headers=user_headers)
    assert response.status_code == 200, response.text
    assert response.json()["full_name"] == "Renamed"
    assert client.get("/users/me", headers=user_headers).json()["full_name"] == "Renamed"


def test_list_users_pagination(client, unique):
    created = []
    for _ in range(3):
        created.append(client.post("/users/", json={"email": f"{unique('page')}@example.com"}).json()["id"])
    everyone = [u["id"] for u in client.get("/users/", params={"limit": 1000}).json()]
    assert everyone == sorted(everyone)
    start = everyone.index(created[0])
    page = client.get("/users/", params={"skip": start, "limit": 2}).json()
    assert [u["id"] for u in page] == created[:2]
