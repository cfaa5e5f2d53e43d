import uuid

import pytest


@pytest.mark.parametrize("job_id", [str(uuid.uuid4()), "not-a-uuid", "1"])
def test_unknown_job_is_404(client, job_id):
    response = client.get(f"/api/v1/jobs/{job_id}")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert job_id in response.json["detail"]
