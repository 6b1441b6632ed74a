"""The image service's state shared by all handlers: config, registry, store and writer.

It also answers the two questions every handler asks first: "may this caller see this
image?" (404 when not, so private images do not leak their existence) and "may this caller
change it?" (403 when visible but not theirs).
"""
from __future__ import annotations

import logging
import threading
import time

from common.http_errors import HTTPError
from common.object_store import ObjectStore
from common.token_check import TokenChecker
from imagesvc.config import ImageConfig
from imagesvc.policy import Identity, can_modify, can_see
from imagesvc.registry import Registry
from imagesvc.upload import ImageDataWriter

log = logging.getLogger("brume.imagesvc")
CLEANUP_ATTEMPTS = 30
CLEANUP_RETRY_SECONDS = 10.0


class ImageService:
    def __init__(self, config: ImageConfig, registry: Registry | None = None,
                 store: ObjectStore | None = None):
        self.config = config
        self.tokens = TokenChecker.from_values(config.token_check, config.token_secret,
                                               f"{config.where}: [image-api]")
        self.registry = registry or Registry(config.registry_db)
        self.store = store or ObjectStore(
            config.auth_url, config.service_user, config.service_key,
            config.store_account, config.store_timeout,
        )
        self.writer = ImageDataWriter(
            self.store,
            container=config.container,
            segment_container=config.segment_container,
            slo_threshold=config.slo_threshold,
            segment_size=config.segment_size,
            concurrency=config.upload_concurrency,
            queue_chunks=config.segment_queue_chunks,
            max_size=config.max_image_size,
        )

    def recover_interrupted_uploads(self) -> threading.Thread | None:
        """Uploads cut short by a crash go back to `queued` now; their partial data, and the
        data of deleted images the store could not delete at the time, is deleted in the
        background (retrying while the store is not reachable yet)."""
        pending: list[tuple[str, dict]] = []
        for image_id, location in self.registry.uploads_in_progress():
            if self.registry.update(image_id, {"status": "queued"}, expect_status=("saving",),
                                    location=None):
                log.warning("image %s: upload interrupted by a restart; back to queued",
                            image_id)
                if location:
                    pending.append((image_id, location))
        leftovers = self.registry.deleted_with_data()
        if not pending and not leftovers:
            return None
        cleaner = threading.Thread(target=self._clean_up, args=(pending, leftovers),
                                   daemon=True)
        cleaner.start()
        return cleaner

    def _clean_up(self, pending: list[tuple[str, dict]],
                  leftovers: list[tuple[str, dict]]) -> None:
        for attempt in range(CLEANUP_ATTEMPTS):
            pending = [item for item in pending if not self._try_delete(item[1])]
            for image_id, location in list(leftovers):
                if self._try_delete(location):
                    self.registry.forget_location(image_id)
                    leftovers.remove((image_id, location))
            if not pending and not leftovers:
                return
            time.sleep(CLEANUP_RETRY_SECONDS * min(attempt + 1, 6))
        log.error("could not delete stored data of images %s",
                  [image_id for image_id, _ in pending + leftovers])

    def _try_delete(self, location: dict) -> bool:
        try:
            return self.writer.delete(location)
        except Exception as exc:  # the store may not be up yet; retried
            log.info("cleanup of %s deferred: %s", location.get("object"), exc)
            return False

    def membership(self, image_id: str, who: Identity) -> str | None:
        member = self.registry.get_member(image_id, who.project)
        return member["status"] if member else None

    def visible_image(self, image_id: str, who: Identity) -> dict:
        image = self.registry.get(image_id)
        if image is None or not can_see(image, who, self.membership(image_id, who)):
            raise HTTPError(404, f"No image found with ID {image_id}")
        return image

    def owned_image(self, image_id: str, who: Identity) -> dict:
        image = self.visible_image(image_id, who)
        if not can_modify(image, who):
            raise HTTPError(403, f"You are not permitted to modify image {image_id}")
        return image

    def remove_data(self, image_id: str, location: dict | None) -> None:
        if location is None:
            return
        if self.writer.delete(location):
            self.registry.forget_location(image_id)
        else:
            log.warning("image %s: some stored data could not be deleted: %s",
                        image_id, location)
