from django.urls import reverse

from tests.library_helpers import add_audio, add_portrait

URL = reverse("library:index")


def test_owner_sees_own_uploads_with_details(owner_client, owner):
    portrait = add_portrait(owner, name="headshot.png", size=(640, 480))
    clip = add_audio(owner, name="lecture-1.wav", seconds=75.0)
    page = owner_client.get(URL).content.decode()
    assert "headshot.png" in page and "640×480" in page
    assert reverse("library:portrait_thumbnail", args=[portrait.id]) in page
    assert "lecture-1.wav" in page and "1:15" in page
    assert f'src="{reverse("library:audio_file", args=[clip.id])}"' in page
    owner.refresh_from_db()
    assert owner.storage_used_bytes == portrait.size_bytes + clip.size_bytes


def test_nobody_sees_anyone_elses_uploads(owner_client, owner, outsider):
    theirs = add_portrait(outsider, name="their-face.png")
    their_clip = add_audio(outsider, name="their-voice.wav")
    page = owner_client.get(URL).content.decode()
    assert "their-face.png" not in page and str(theirs.id) not in page
    assert "their-voice.wav" not in page and str(their_clip.id) not in page
    assert "No portraits yet" in page


def test_anonymous_is_sent_to_login(client):
    response = client.get(URL)
    assert response.status_code == 302 and reverse("account_login") in response.url
